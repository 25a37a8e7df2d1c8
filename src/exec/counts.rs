//! The counts a command reports to `runledger exec`: lines on its standard output such as
//! `runledger: total=120 processed=80`, or the same `key=value` pairs in the file that
//! `RUNLEDGER_COUNTS_FILE` names. They become the run's `total-records` and
//! `records-processed`. `docs/monitoring.md` is the user's description of the protocol.

use std::path::Path;

/// What a count line starts with.
pub const PREFIX: &[u8] = b"runledger:";

/// The longest line read as a count line: longer ones pass through and are not read.
const MAX_LINE: usize = 256;

/// The counts reported so far; `None` until the command reports one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub total: Option<i64>,
    pub processed: Option<i64>,
}

impl Counts {
    /// `self` with every count that `later` reports put over it.
    pub fn updated(self, later: Counts) -> Counts {
        Counts {
            total: later.total.or(self.total),
            processed: later.processed.or(self.processed),
        }
    }

    /// The run's elements for these counts, as a JSON body carries them.
    pub fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        if let Some(total) = self.total {
            fields.insert("total-records".into(), total.into());
        }
        if let Some(processed) = self.processed {
            fields.insert("records-processed".into(), processed.into());
        }
        fields
    }
}

/// The counts of one report: `key=value` pairs separated by spaces or tabs. The keys are
/// `total` (or `total-records`) and `processed` (or `records-processed`), the values whole
/// numbers from 0 up. A pair with another key is passed over, so that later versions may
/// read more; a report with a value that is not such a number is ignored as a whole.
pub fn parse_pairs(text: &str) -> Option<Counts> {
    let mut counts = Counts::default();
    let mut any = false;
    for pair in text.split([' ', '\t']).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=')?;
        let slot = match key {
            "total" | "total-records" => &mut counts.total,
            "processed" | "records-processed" => &mut counts.processed,
            _ => continue,
        };
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = Some(value.parse().ok()?);
        any = true;
    }
    any.then_some(counts)
}

/// One line of standard output (without its line feed) as a count line, if it is one:
/// `runledger:` at its very start, then pairs (see [`parse_pairs`]).
pub fn parse_line(line: &[u8]) -> Option<Counts> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.strip_prefix(PREFIX)?;
    parse_pairs(std::str::from_utf8(rest).ok()?)
}

/// The counts in a counts file: one report per line, with or without `runledger:` in
/// front; the last value of each count wins.
pub fn parse_file(text: &str) -> Counts {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_prefix("runledger:").unwrap_or(line);
            parse_pairs(line)
        })
        .fold(Counts::default(), Counts::updated)
}

/// A new, empty counts file of this exec's own (only its owner can read or write it), for
/// `RUNLEDGER_COUNTS_FILE`. Created here, it cannot be a link someone else prepared.
pub fn create_file() -> std::io::Result<std::path::PathBuf> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
    let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let path = std::env::temp_dir().join(format!("runledger-counts-{name}"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(&path)?;
    Ok(path)
}

/// The counts file at `path`, if the command wrote one.
pub fn read_file(path: &Path) -> Option<Counts> {
    let text = std::fs::read(path).ok()?;
    let counts = parse_file(&String::from_utf8_lossy(&text));
    (counts != Counts::default()).then_some(counts)
}

/// Finds count lines in a stream of output bytes that arrives in chunks of any size. Only
/// the current line's first bytes are kept, so a long line costs nothing.
#[derive(Debug, Default)]
pub struct LineScanner {
    line: Vec<u8>,
    /// The current line is longer than [`MAX_LINE`]: it cannot be a count line.
    overlong: bool,
}

impl LineScanner {
    /// Reads `chunk`; returns the counts of the count lines it completes, in order, merged.
    pub fn feed(&mut self, chunk: &[u8]) -> Option<Counts> {
        let mut found: Option<Counts> = None;
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            let (body, ends) = match piece.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (piece, false),
            };
            if !self.overlong {
                if self.line.len() + body.len() > MAX_LINE {
                    self.overlong = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(body);
                }
            }
            if ends {
                if !self.overlong
                    && let Some(counts) = parse_line(&self.line)
                {
                    found = Some(found.unwrap_or_default().updated(counts));
                }
                self.line.clear();
                self.overlong = false;
            }
        }
        found
    }

    /// The last line, when the output ended without a line feed.
    pub fn finish(&mut self) -> Option<Counts> {
        let counts = (!self.overlong).then(|| parse_line(&self.line)).flatten();
        self.line.clear();
        self.overlong = false;
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(total: Option<i64>, processed: Option<i64>) -> Counts {
        Counts { total, processed }
    }

    #[test]
    fn a_count_line_reports_either_count_or_both() {
        assert_eq!(
            parse_line(b"runledger: total=120"),
            Some(counts(Some(120), None))
        );
        assert_eq!(
            parse_line(b"runledger: processed=80\r"),
            Some(counts(None, Some(80)))
        );
        assert_eq!(
            parse_line(b"runledger:total=3\tprocessed=2 later=x"),
            Some(counts(Some(3), Some(2)))
        );
        assert_eq!(
            parse_line(b"runledger: total-records=5 records-processed=5"),
            Some(counts(Some(5), Some(5)))
        );
    }

    #[test]
    fn anything_else_is_plain_output() {
        for line in [
            &b" runledger: total=1"[..],
            b"Runledger: total=1",
            b"runledger: total=-1",
            b"runledger: total=1e3",
            b"runledger: total=",
            b"runledger: total=99999999999999999999",
            b"runledger: total",
            b"runledger: done",
            b"runledger:",
            b"runledger: total=\xff",
            b"total=5",
        ] {
            assert_eq!(parse_line(line), None, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn lines_are_found_across_chunks_and_long_lines_are_passed_over() {
        let mut scanner = LineScanner::default();
        assert_eq!(scanner.feed(b"hello\nrunledger: to"), None);
        assert_eq!(
            scanner.feed(b"tal=7\nrunledger: processed=1\nrunledger: processed=2\n"),
            Some(counts(Some(7), Some(2)))
        );
        let long = [b"runledger: total=1 ".as_slice(), &[b'x'; 400], b"\n"].concat();
        assert_eq!(scanner.feed(&long), None);
        assert_eq!(scanner.feed(b"runledger: total=9"), None);
        assert_eq!(scanner.finish(), Some(counts(Some(9), None)));
        assert_eq!(scanner.finish(), None);
    }

    #[test]
    fn a_counts_file_takes_the_last_value_of_each_count() {
        let text = "total=10\nprocessed=4\nrunledger: processed=6\nnonsense\n";
        assert_eq!(parse_file(text), counts(Some(10), Some(6)));
        assert_eq!(parse_file(""), Counts::default());
    }

    #[test]
    fn counts_become_the_runs_elements() {
        let fields = counts(Some(3), None).fields();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields["total-records"], 3);
        assert!(Counts::default().fields().is_empty());
    }
}
