//! The layers hold: no import circle between the modules of `src/`, and no module imports from
//! a layer it must not know (`docs/architecture.md`, "Invariants").
//!
//! Every file under `src/` is parsed with `syn` (so comments and string literals never count),
//! and each path it names is resolved to the file that defines it: `crate::…`, `super::…`,
//! `self::…`, a child module's name, `runledger::…` in the binaries, and a re-export (`pub use`
//! or a plain `use` a child reaches through `super::`) is followed to its source. Paths inside
//! macro invocations and `macro_rules!` bodies are read from their tokens. External crates count
//! by their first segment (`axum::…`, `sqlx::…`). A module's `mod` declarations are not imports.
//!
//! The nodes are files (`store::sqlite` is `src/store/sqlite.rs`; `crate` is `src/lib.rs`).
//! Test modules inside a file count like the rest of it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::{self, Visit};

/// Edges allowed to break a rule, each named with its reason: none since issue 13. The check
/// fails on a violation that is not here, and on an entry here that is no longer a violation,
/// so that an exception, should one ever be made, is written down and can only shrink.
const KNOWN: &[(&str, &str)] = &[];

/// External crates that are a web framework, an HTTP client or server, a mail transport or a
/// database driver: I/O the pure layers never do.
const WEB_AND_DRIVERS: &[&str] = &[
    "ext:axum",
    "ext:http_body_util",
    "ext:hyper",
    "ext:hyper_util",
    "ext:lettre",
    "ext:reqwest",
    "ext:rusqlite",
    "ext:sqlx",
    "ext:tower",
    "ext:tower_http",
];

/// One layer rule: modules under `from` never import anything under `forbidden`.
struct Rule {
    from: &'static [&'static str],
    forbidden: &'static [&'static [&'static str]],
    why: &'static str,
}

/// Modules above the pure layers: the pure ones import none of them.
const ABOVE_PURE: &[&str] = &[
    "alerts", "app", "auth", "config", "egress", "exec", "http", "router", "seeder", "server",
    "startup", "store", "sweeper", "hub", "view", "workers",
];

const RULES: &[Rule] = &[
    Rule {
        from: &["domain", "query", "error", "time"],
        forbidden: &[WEB_AND_DRIVERS, ABOVE_PURE],
        why: "domain/, query/, error.rs and time.rs are pure: no web framework, no driver, \
              nothing from the layers above them",
    },
    Rule {
        from: &["store"],
        forbidden: &[
            &[
                "http", "seeder", "app", "server", "view", "alerts", "sweeper", "hub", "workers",
            ],
            &[
                "ext:axum",
                "ext:hyper",
                "ext:hyper_util",
                "ext:tower",
                "ext:tower_http",
            ],
        ],
        why: "store/ knows the domain and SQL, never HTTP, and never the seeding CLI (seeder.rs)",
    },
    Rule {
        from: &["alerts", "sweeper", "hub", "workers", "auth", "egress"],
        forbidden: &[&["http", "app"]],
        why: "background workers (alerts.rs, sweeper.rs, hub.rs, workers/), auth/ and egress.rs never import http/ \
              nor the state handlers share (app.rs)",
    },
    Rule {
        from: &["view"],
        forbidden: &[&["http", "store", "app"]],
        why: "view/ renders domain values for HTTP answers and webhook payloads alike: it \
              imports neither http/ nor store/",
    },
    Rule {
        from: &["app"],
        forbidden: &[&["http", "router", "startup"]],
        why: "app.rs is the state every handler shares: it imports no handler, and the route \
              table lives in router.rs",
    },
    Rule {
        from: &[
            "alerts", "app", "auth", "config", "domain", "egress", "error", "exec", "http",
            "query", "seeder", "server", "store", "sweeper", "hub", "time", "view", "workers",
        ],
        forbidden: &[&["router", "startup"]],
        why: "only startup.rs wires the router in, and only main.rs (and the tests) start the \
              server",
    },
    Rule {
        from: &["exec"],
        forbidden: &[
            &[
                "alerts", "app", "auth", "egress", "http", "hub", "router", "seeder", "server",
                "startup", "store", "sweeper", "view", "workers",
            ],
            &[
                "ext:rusqlite",
                "ext:sqlx",
                "ext:axum",
                "ext:tower",
                "ext:tower_http",
            ],
        ],
        why: "runledger exec (exec.rs, exec/) talks HTTP to a running server, never to the \
              database: it knows the domain's words, the configuration and an HTTP client, \
              nothing of the server",
    },
    Rule {
        from: &["config"],
        forbidden: &[&[
            "alerts", "app", "auth", "egress", "exec", "http", "hub", "seeder", "server", "store",
            "sweeper", "view", "workers",
        ]],
        why: "config.rs is read before what it configures, and imports none of it",
    },
];

/// Whether `module` is `prefix` or sits under it (`store::sqlite` is under `store`).
fn under(module: &str, prefix: &str) -> bool {
    module == prefix
        || module
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// The rule an edge breaks, if any.
fn broken_rule(from: &str, to: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| {
        rule.from.iter().any(|f| under(from, f))
            && rule
                .forbidden
                .iter()
                .flat_map(|group| group.iter())
                .any(|t| under(to, t))
    })
}

// ---------------------------------------------------------------------------------------------
// The graph

type Graph = BTreeMap<String, BTreeSet<String>>;

/// A cycle in `graph`, as a path whose last node is its first, or `None`. Deterministic: the
/// nodes and their edges are visited in order.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'g>(
        node: &'g str,
        graph: &'g Graph,
        marks: &mut BTreeMap<&'g str, Mark>,
        stack: &mut Vec<&'g str>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack
                    .iter()
                    .position(|n| *n == node)
                    .expect("open is on the stack");
                let mut cycle: Vec<String> = stack[start..].iter().map(|n| n.to_string()).collect();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node, Mark::Open);
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

/// Whether `to` reaches `from` in `graph`, i.e. whether the edge `from -> to` lies on a cycle.
fn on_cycle(graph: &Graph, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut todo = vec![to];
    while let Some(node) = todo.pop() {
        if node == from {
            return true;
        }
        if seen.insert(node) {
            todo.extend(graph.get(node).into_iter().flatten().map(String::as_str));
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Reading `src/`

/// A parsed file of `src/`: its module path (`["store", "sqlite"]`, empty for `lib.rs`), its
/// crate, and the paths it names.
struct Source {
    module: Vec<String>,
    /// `None` for the library; the binary's node name otherwise.
    binary: Option<String>,
    file: syn::File,
}

/// The node name of a library module.
fn node_name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// What `src/` holds: each file's module, and the names each file binds with `use` at its top
/// level (for following re-exports).
struct Tree {
    /// Library modules, by path.
    modules: BTreeSet<Vec<String>>,
    /// For each library module, its top-level `use` bindings: name -> absolute path.
    aliases: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
    /// Names of the external crates (from Cargo.toml, `-` as `_`).
    externs: BTreeSet<String>,
}

/// Reads the dependency names of a Cargo.toml, from every `*dependencies` table.
fn dependency_names(manifest: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_dependencies = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line.trim_end_matches(']').ends_with("dependencies");
        } else if in_dependencies
            && let Some((name, _)) = line.split_once('=')
            && !line.starts_with('#')
        {
            names.insert(name.trim().replace('-', "_"));
        }
    }
    names
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// A file's place: `src/lib.rs` is the library root, `src/main.rs` and `src/bin/*.rs` are
/// binaries, and every other file is the library module its path names.
fn place(relative: &Path) -> (Vec<String>, Option<String>) {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [lib] if lib == "lib.rs" => (Vec::new(), None),
        [main] if main == "main.rs" => (Vec::new(), Some("main".to_string())),
        [bin, name] if bin == "bin" => (
            Vec::new(),
            Some(format!("bin/{}", name.trim_end_matches(".rs"))),
        ),
        _ => {
            let mut module = parts;
            let last = module.pop().expect("a file name");
            if last != "mod.rs" {
                module.push(last.trim_end_matches(".rs").to_string());
            }
            (module, None)
        }
    }
}

fn parse(text: &str, what: &str) -> syn::File {
    syn::parse_file(text).unwrap_or_else(|e| panic!("parsing {what}: {e}"))
}

/// The flattened paths of a `use` tree, each with the name it binds (`None` for a glob).
fn use_paths(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                out.push((prefix.clone(), prefix.last().cloned()));
            } else {
                let mut path = prefix.clone();
                path.push(name.clone());
                out.push((path, Some(name)));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            let name = r.ident.to_string();
            if name != "self" {
                path.push(name);
            }
            out.push((path, Some(r.rename.to_string())));
        }
        syn::UseTree::Glob(_) => out.push((prefix.clone(), None)),
        syn::UseTree::Group(g) => {
            for item in &g.items {
                use_paths(item, prefix, out);
            }
        }
    }
}

/// The name an item defines, if it defines one.
fn item_name(item: &syn::Item) -> Option<String> {
    let ident = match item {
        syn::Item::Const(i) => &i.ident,
        syn::Item::Enum(i) => &i.ident,
        syn::Item::Fn(i) => &i.sig.ident,
        syn::Item::Macro(i) => i.ident.as_ref()?,
        syn::Item::Mod(i) => &i.ident,
        syn::Item::Static(i) => &i.ident,
        syn::Item::Struct(i) => &i.ident,
        syn::Item::Trait(i) => &i.ident,
        syn::Item::TraitAlias(i) => &i.ident,
        syn::Item::Type(i) => &i.ident,
        syn::Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

impl Tree {
    fn new(sources: &[Source], externs: BTreeSet<String>) -> Tree {
        let modules: BTreeSet<Vec<String>> = sources
            .iter()
            .filter(|s| s.binary.is_none())
            .map(|s| s.module.clone())
            .collect();
        let mut tree = Tree {
            modules,
            aliases: BTreeMap::new(),
            externs,
        };
        for source in sources.iter().filter(|s| s.binary.is_none()) {
            let mut aliases = BTreeMap::new();
            // A name the file defines itself is that item, even where a `use` binds the same
            // name in the other namespace (`fn render` beside `use super::render`).
            let defined: BTreeSet<String> =
                source.file.items.iter().filter_map(item_name).collect();
            for item in &source.file.items {
                if let syn::Item::Use(u) = item {
                    let mut found = Vec::new();
                    use_paths(&u.tree, &mut Vec::new(), &mut found);
                    for (path, name) in found {
                        let (Some(name), Some(absolute)) = (
                            name,
                            tree.absolute(&source.module, &source.module, false, &path),
                        ) else {
                            continue;
                        };
                        if !defined.contains(&name) {
                            aliases.insert(name, absolute);
                        }
                    }
                }
            }
            tree.aliases.insert(source.module.clone(), aliases);
        }
        tree
    }

    /// The absolute library path a path names, seen from `scope` (the file's module plus any
    /// inline modules) in the file of `file_module`; `None` for a local name or an external
    /// crate. `binary` says whether the file is a binary's root (where `runledger::` is the
    /// library and `crate::` is the binary itself).
    fn absolute(
        &self,
        file_module: &[String],
        scope: &[String],
        binary: bool,
        path: &[String],
    ) -> Option<Vec<String>> {
        let (first, rest) = path.split_first()?;
        let mut base: Vec<String> = match first.as_str() {
            "crate" if !binary => Vec::new(),
            "runledger" if binary => Vec::new(),
            "self" if !binary => scope.to_vec(),
            "super" if !binary => {
                let mut base = scope.to_vec();
                base.pop();
                let mut rest = rest;
                while let Some((next, tail)) = rest.split_first() {
                    if next != "super" {
                        break;
                    }
                    base.pop();
                    rest = tail;
                }
                base.extend(rest.iter().cloned());
                return Some(base);
            }
            name if !binary => {
                // A child module of the file's module, named without a prefix.
                let mut child = file_module.to_vec();
                child.push(name.to_string());
                if self.modules.contains(&child) {
                    child.extend(rest.iter().cloned());
                    return Some(child);
                }
                // A name the file binds with `use` (`use crate::store;` then `store::sqlite::…`).
                let mut bound = self.aliases.get(file_module)?.get(name)?.clone();
                bound.extend(rest.iter().cloned());
                return Some(bound);
            }
            _ => return None,
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The file module that defines what an absolute path names, following `use` bindings.
    fn defining_module(&self, absolute: &[String], depth: usize) -> Vec<String> {
        let mut module = absolute.to_vec();
        while !module.is_empty() && !self.modules.contains(&module) {
            module.pop();
        }
        if depth < 8
            && let Some(next) = absolute.get(module.len())
            && let Some(target) = self.aliases.get(&module).and_then(|a| a.get(next))
        {
            let mut target = target.clone();
            target.extend(absolute[module.len() + 1..].iter().cloned());
            return self.defining_module(&target, depth + 1);
        }
        module
    }

    /// The node a path names from a file, if it is another module or an external crate.
    fn resolve(&self, source: &Source, scope: &[String], path: &[String]) -> Option<String> {
        let binary = source.binary.is_some();
        if let Some(absolute) = self.absolute(&source.module, scope, binary, path) {
            return Some(node_name(&self.defining_module(&absolute, 0)));
        }
        let first = path.first()?;
        if first == "crate" || first == "self" || first == "super" {
            return None;
        }
        self.externs.contains(first).then(|| format!("ext:{first}"))
    }
}

/// Collects the paths a file names, with the inline module they appear in.
struct Paths {
    scope: Vec<String>,
    found: Vec<(Vec<String>, Vec<String>)>,
}

impl Paths {
    fn add(&mut self, path: Vec<String>) {
        if path.len() >= 2 {
            self.found.push((self.scope.clone(), path));
        }
    }

    /// Paths in a token stream (a macro's input or body): identifiers joined by `::`. `$crate`
    /// reads as `crate`.
    fn tokens(&mut self, tokens: TokenStream) {
        let mut path: Vec<String> = Vec::new();
        let mut after_colons = false;
        let mut colon = false;
        for token in tokens {
            match token {
                TokenTree::Ident(ident) => {
                    if !after_colons && !path.is_empty() {
                        self.add(std::mem::take(&mut path));
                    }
                    path.push(ident.to_string());
                    after_colons = false;
                    colon = false;
                }
                TokenTree::Punct(p) if p.as_char() == ':' => {
                    if colon {
                        after_colons = true;
                        colon = false;
                    } else {
                        colon = true;
                    }
                }
                TokenTree::Punct(p) if p.as_char() == '$' => {}
                other => {
                    self.add(std::mem::take(&mut path));
                    after_colons = false;
                    colon = false;
                    if let TokenTree::Group(group) = other {
                        self.tokens(group.stream());
                    }
                }
            }
        }
        self.add(path);
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.scope.push(item.ident.to_string());
        visit::visit_item_mod(self, item);
        self.scope.pop();
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut found = Vec::new();
        use_paths(&item.tree, &mut Vec::new(), &mut found);
        for (path, _) in found {
            self.add(path);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.add(path.segments.iter().map(|s| s.ident.to_string()).collect());
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        visit::visit_macro(self, mac);
        self.tokens(mac.tokens.clone());
    }

    fn visit_meta_list(&mut self, list: &'ast syn::MetaList) {
        visit::visit_meta_list(self, list);
        self.tokens(list.tokens.clone());
    }
}

/// The import graph of a set of sources: node -> the nodes it imports (self-imports dropped).
fn import_graph(sources: &[Source], externs: BTreeSet<String>) -> Graph {
    let tree = Tree::new(sources, externs);
    let mut graph = Graph::new();
    for source in sources {
        let from = match &source.binary {
            Some(name) => name.clone(),
            None => node_name(&source.module),
        };
        let mut paths = Paths {
            scope: source.module.clone(),
            found: Vec::new(),
        };
        paths.visit_file(&source.file);
        let edges = graph.entry(from.clone()).or_default();
        for (scope, path) in &paths.found {
            if let Some(to) = tree.resolve(source, scope, path)
                && to != from
            {
                edges.insert(to);
            }
        }
    }
    graph
}

fn read_src() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("reading Cargo.toml");
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let sources: Vec<Source> = files
        .iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).expect("a file under src/");
            let (module, binary) = place(relative);
            let text = std::fs::read_to_string(file).expect("reading a source file");
            Source {
                module,
                binary,
                file: parse(&text, &relative.display().to_string()),
            }
        })
        .collect();
    import_graph(&sources, dependency_names(&manifest))
}

/// The file graph the cycle check reads: the library's modules only (no external crates, no
/// binaries), without the edges from a module to its own children. A folder's `mod.rs` declares,
/// re-exports and drives its files, and they may use what it defines: that is one unit, not a
/// circle. Circles between folders are caught by [`folder_graph`].
fn file_graph(graph: &Graph) -> Graph {
    graph
        .iter()
        .filter(|(from, _)| !from.starts_with("main") && !from.starts_with("bin/"))
        .map(|(from, targets)| {
            let targets = targets
                .iter()
                .filter(|to| !to.starts_with("ext:") && from != "crate" && !under(to, from))
                .cloned()
                .collect();
            (from.clone(), targets)
        })
        .collect()
}

/// The top-level module a module sits in: `http` for `http::runs`.
fn folder(module: &str) -> &str {
    module.split("::").next().expect("a module has a name")
}

/// The file graph with every module folded into its top-level module: `auth::oauth ->
/// http::format` and `http::auth -> auth` make a circle `auth -> http -> auth`.
fn folder_graph(files: &Graph) -> Graph {
    let mut graph = Graph::new();
    for (from, targets) in files {
        let edges = graph.entry(folder(from).to_string()).or_default();
        for to in targets {
            if folder(to) != folder(from) {
                edges.insert(folder(to).to_string());
            }
        }
    }
    graph
}

fn without(graph: &Graph, edges: &[(&str, &str)]) -> Graph {
    let mut graph = graph.clone();
    for (from, to) in edges {
        if let Some(targets) = graph.get_mut(*from) {
            targets.remove(*to);
        }
    }
    graph
}

// ---------------------------------------------------------------------------------------------
// The checks

#[test]
fn no_module_of_src_imports_from_a_layer_it_must_not_know() {
    let graph = read_src();
    let files = file_graph(&graph);
    let folders = folder_graph(&files);
    let known: BTreeSet<(&str, &str)> = KNOWN.iter().copied().collect();
    let mut report = String::new();
    for (from, targets) in &graph {
        for to in targets {
            if let Some(rule) = broken_rule(from, to)
                && !known.contains(&(from.as_str(), to.as_str()))
            {
                writeln!(report, "new violation: {from} -> {to}: {}", rule.why).unwrap();
            }
        }
    }
    for (from, to) in &known {
        let exists = graph.get(*from).is_some_and(|t| t.contains(*to));
        let bad = broken_rule(from, to).is_some()
            || on_cycle(&files, from, to)
            || on_cycle(&folders, folder(from), folder(to));
        if !exists || !bad {
            writeln!(
                report,
                "{from} -> {to} is listed in KNOWN but is no longer a violation: \
                 remove it from the list"
            )
            .unwrap();
        }
    }
    assert!(report.is_empty(), "the layers do not hold:\n{report}");
}

#[test]
fn the_files_of_src_import_each_other_without_a_cycle() {
    let files = without(&file_graph(&read_src()), KNOWN);
    if let Some(cycle) = find_cycle(&files) {
        panic!("an import cycle between files: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_folders_of_src_import_each_other_without_a_cycle() {
    let files = without(&file_graph(&read_src()), KNOWN);
    if let Some(cycle) = find_cycle(&folder_graph(&files)) {
        panic!("an import cycle between folders: {}", cycle.join(" -> "));
    }
}

// ---------------------------------------------------------------------------------------------
// The graph logic, on small examples

fn graph(edges: &[(&str, &str)]) -> Graph {
    let mut graph = Graph::new();
    for (from, to) in edges {
        graph
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string());
        graph.entry(to.to_string()).or_default();
    }
    graph
}

#[test]
fn a_graph_without_a_cycle_has_none_even_where_paths_meet_again() {
    let diamond = graph(&[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]);
    assert_eq!(find_cycle(&diamond), None);
}

#[test]
fn a_cycle_is_reported_as_the_path_that_closes_it() {
    let g = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]);
    assert_eq!(find_cycle(&g).unwrap(), ["a", "b", "c", "a"]);
}

#[test]
fn a_cycle_away_from_the_first_node_is_found_and_reported_alone() {
    let g = graph(&[("a", "b"), ("b", "c"), ("c", "d"), ("d", "c")]);
    assert_eq!(find_cycle(&g).unwrap(), ["c", "d", "c"]);
}

#[test]
fn an_edge_is_on_a_cycle_only_when_its_target_leads_back() {
    let g = graph(&[("a", "b"), ("b", "a"), ("b", "c")]);
    assert!(on_cycle(&g, "a", "b"));
    assert!(!on_cycle(&g, "b", "c"));
}

/// The graph of a few in-memory files, each given as (path under `src/`, text).
fn graph_of(files: &[(&str, &str)], externs: &[&str]) -> Graph {
    let sources: Vec<Source> = files
        .iter()
        .map(|(path, text)| {
            let (module, binary) = place(Path::new(path));
            Source {
                module,
                binary,
                file: parse(text, path),
            }
        })
        .collect();
    import_graph(&sources, externs.iter().map(|e| e.to_string()).collect())
}

fn edges_of<'g>(graph: &'g Graph, node: &str) -> Vec<&'g str> {
    graph[node].iter().map(String::as_str).collect()
}

#[test]
fn comments_and_strings_never_count_as_imports() {
    let g = graph_of(
        &[
            ("lib.rs", "pub mod a; pub mod b;"),
            (
                "a.rs",
                r#"// use crate::b::X;
                /// crate::b::Y in a doc comment
                pub fn f() -> &'static str { "crate::b::Z and axum::Router" }"#,
            ),
            ("b.rs", "pub struct X;"),
        ],
        &["axum"],
    );
    assert!(edges_of(&g, "a").is_empty(), "{g:?}");
}

#[test]
fn super_self_children_and_paths_in_code_resolve_to_the_file_that_defines_them() {
    let g = graph_of(
        &[
            ("lib.rs", "pub mod store; pub mod http; pub mod domain;"),
            (
                "store/mod.rs",
                "pub mod sqlite; pub fn open() { sqlite::connect() }",
            ),
            (
                "store/sqlite.rs",
                "use super::open; pub fn connect() { let _ = super::super::domain::runs::Run; }",
            ),
            ("domain/mod.rs", "pub mod runs;"),
            (
                "domain/runs.rs",
                "pub struct Run; mod tests { use super::*; }",
            ),
            (
                "http/mod.rs",
                "pub fn h() -> axum::Router { crate::store::sqlite::connect(); todo!() }",
            ),
        ],
        &["axum"],
    );
    assert_eq!(edges_of(&g, "store"), ["store::sqlite"]);
    assert_eq!(edges_of(&g, "store::sqlite"), ["domain::runs", "store"]);
    assert_eq!(edges_of(&g, "http"), ["ext:axum", "store::sqlite"]);
    assert!(edges_of(&g, "domain::runs").is_empty());
}

#[test]
fn a_re_export_is_followed_to_the_module_that_defines_the_item() {
    let g = graph_of(
        &[
            (
                "lib.rs",
                "pub mod error; pub mod query; pub use error::Error;",
            ),
            ("error.rs", "pub struct Error;"),
            (
                "query/mod.rs",
                "pub mod shape; pub use shape::Shape; use crate::Error;",
            ),
            ("query/shape.rs", "pub struct Shape;"),
            (
                "main.rs",
                "use runledger::query::Shape; fn main() { runledger::Error; }",
            ),
        ],
        &[],
    );
    assert_eq!(edges_of(&g, "query"), ["error", "query::shape"]);
    assert_eq!(edges_of(&g, "main"), ["error", "query::shape"]);
}

#[test]
fn a_module_bound_by_use_resolves_through_the_binding() {
    let g = graph_of(
        &[
            ("lib.rs", "pub mod app; pub mod store;"),
            (
                "app.rs",
                "use crate::store::{self, Store}; fn f() { store::sqlite::open(); }",
            ),
            ("store/mod.rs", "pub mod sqlite; pub trait Store {}"),
            ("store/sqlite.rs", "pub fn open() {}"),
        ],
        &[],
    );
    assert_eq!(edges_of(&g, "app"), ["store", "store::sqlite"]);
}

#[test]
fn an_item_a_file_defines_is_not_taken_for_a_module_it_binds_under_the_same_name() {
    let g = graph_of(
        &[
            ("lib.rs", "pub mod app; pub mod http;"),
            (
                "app.rs",
                "use crate::http::errors; fn f() { errors::render(); }",
            ),
            ("http/mod.rs", "pub mod errors; pub mod render;"),
            ("http/errors.rs", "use super::render; pub fn render() {}"),
            ("http/render.rs", "pub struct Node;"),
        ],
        &[],
    );
    assert_eq!(edges_of(&g, "app"), ["http::errors"]);
}

#[test]
fn paths_inside_macros_and_macro_definitions_count() {
    let g = graph_of(
        &[
            ("lib.rs", "pub mod a; pub mod b; pub mod c;"),
            (
                "a.rs",
                "macro_rules! m { () => { $crate::b::f() }; } \
                 fn g() { println!(\"{}\", crate::c::h()); let _ = sqlx::query!(\"x\"); }",
            ),
            ("b.rs", "pub fn f() {}"),
            ("c.rs", "pub fn h() {}"),
        ],
        &["sqlx"],
    );
    assert_eq!(edges_of(&g, "a"), ["b", "c", "ext:sqlx"]);
}

#[test]
fn a_layer_rule_names_the_edges_it_forbids_and_no_others() {
    assert!(broken_rule("domain::runs", "ext:axum").is_some());
    assert!(broken_rule("domain::runs", "store::shared").is_some());
    assert!(broken_rule("store::sqlite", "seeder").is_some());
    assert!(broken_rule("alerts", "http::render").is_some());
    assert!(broken_rule("auth::oauth", "http::format").is_some());
    assert!(broken_rule("view::runs", "store").is_some());
    assert!(broken_rule("config", "alerts").is_some());
    assert!(broken_rule("app", "http::runs").is_some());
    assert!(broken_rule("http::runs", "router").is_some());
    assert!(broken_rule("startup", "router").is_none());
    assert!(broken_rule("http::runs", "app").is_none());
    assert!(broken_rule("http::runs", "store").is_none());
    assert!(broken_rule("store::sqlite", "domain::runs").is_none());
    assert!(broken_rule("alerts", "view").is_none());
    assert!(
        broken_rule("timeline", "ext:axum").is_none(),
        "a prefix is a whole segment"
    );
}

#[test]
fn a_folder_and_its_own_files_may_use_each_other_but_not_a_sibling_and_back() {
    let g = graph(&[
        ("query", "query::shape"),
        ("query::shape", "query"),
        ("http::runs", "app"),
        ("app", "http::auth"),
        ("http::auth", "http"),
    ]);
    let files = file_graph(&g);
    assert!(
        files["query"].is_empty(),
        "a parent's edge to its child is not an import"
    );
    assert_eq!(find_cycle(&files), None);
    let folders = folder_graph(&files);
    assert_eq!(find_cycle(&folders).unwrap(), ["app", "http", "app"]);
}

#[test]
fn a_known_edge_taken_out_of_the_graph_ends_the_cycle_it_closed() {
    let g = graph(&[("store", "seed"), ("seed", "store"), ("seed", "query")]);
    assert!(find_cycle(&file_graph(&g)).is_some());
    let g = without(&file_graph(&g), &[("store", "seed")]);
    assert_eq!(find_cycle(&g), None);
    assert_eq!(find_cycle(&folder_graph(&g)), None);
}
