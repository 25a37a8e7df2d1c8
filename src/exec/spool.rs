//! The spool: runs that `runledger exec` could not record, one JSON file each, written
//! atomically (a temporary file, synced, then renamed), and sent by a later exec, oldest
//! first. A run the server refuses for good moves to `rejected/` beside them, where a person
//! can read it, and move it back to try again.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::Finished;
use crate::time;

/// The format of a spool file; a later version may read older ones.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SpoolFile {
    version: u32,
    run: Finished,
}

#[derive(Clone, Debug)]
pub struct Spool {
    dir: PathBuf,
}

/// The spool's lock, held while a flush sends its runs: two execs never send the same one.
pub struct Lock {
    _file: File,
}

impl Spool {
    pub fn new(dir: PathBuf) -> Spool {
        Spool { dir }
    }

    /// The default folder: `$XDG_STATE_HOME/runledger/spool`, or
    /// `$HOME/.local/state/runledger/spool` (the XDG default of the same).
    pub fn default_dir(
        xdg_state_home: Option<OsString>,
        home: Option<OsString>,
    ) -> Option<PathBuf> {
        let absolute = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
        let state = xdg_state_home.and_then(absolute).or_else(|| {
            home.and_then(absolute)
                .map(|h| h.join(".local").join("state"))
        })?;
        Some(state.join("runledger").join("spool"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn rejected_dir(&self) -> PathBuf {
        self.dir.join("rejected")
    }

    /// Keeps `run` in a new file; its path.
    pub fn put(&self, run: &Finished) -> io::Result<PathBuf> {
        create_private_dir(&self.dir)?;
        let name = file_name(run)?;
        write_atomically(&self.dir, &name, run)
    }

    /// Writes `run` over the file at `path`, after a step of its delivery.
    pub fn rewrite(&self, path: &Path, run: &Finished) -> io::Result<()> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| io::Error::other("not a spool file"))?;
        write_atomically(&self.dir, name, run).map(drop)
    }

    /// Moves a spooled run the server refused into `rejected/`, or keeps a run that never
    /// was spooled (`path` none) there; its new path.
    pub fn reject(&self, path: Option<&Path>, run: &Finished) -> io::Result<PathBuf> {
        let rejected = self.rejected_dir();
        create_private_dir(&rejected)?;
        match path {
            Some(path) => {
                let name = path
                    .file_name()
                    .ok_or_else(|| io::Error::other("not a file"))?;
                let to = rejected.join(name);
                fs::rename(path, &to)?;
                Ok(to)
            }
            None => write_atomically(&rejected, &file_name(run)?, run),
        }
    }

    /// Moves a file that is not a run this version can read into `rejected/`.
    pub fn reject_unreadable(&self, path: &Path) -> io::Result<PathBuf> {
        let rejected = self.rejected_dir();
        create_private_dir(&rejected)?;
        let to = rejected.join(path.file_name().unwrap_or_default());
        fs::rename(path, &to)?;
        Ok(to)
    }

    /// The spooled runs, oldest first (file names start with the run's start time).
    pub fn pending(&self) -> io::Result<Vec<PathBuf>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !name.starts_with('.') && name.ends_with(".json") && entry.file_type()?.is_file() {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(files)
    }

    /// Reads a spooled run.
    pub fn read(path: &Path) -> Result<Finished, String> {
        let bytes = fs::read(path).map_err(|e| e.to_string())?;
        let file: SpoolFile = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if file.version > VERSION {
            return Err(format!(
                "written by a later runledger (version {})",
                file.version
            ));
        }
        Ok(file.run)
    }

    /// The spool's lock, if no other exec holds it; `None` if one does.
    pub fn lock(&self) -> io::Result<Option<Lock>> {
        create_private_dir(&self.dir)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".lock"))?;
        #[cfg(unix)]
        {
            use rustix::fs::{FlockOperation, flock};
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(e) if e == rustix::io::Errno::WOULDBLOCK => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(Lock { _file: file }))
    }
}

/// `<start time>-<random>.json`: names sort as the runs started, and never collide.
fn file_name(run: &Finished) -> io::Result<String> {
    let started = time::parse(&run.start_time).unwrap_or_else(time::now);
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{random}.json",
        started.format("%Y%m%dT%H%M%SZ")
    ))
}

/// A folder only its owner can read: a run's output may be private.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes `run` to `dir/name` so that a reader finds the old file or the new one, whole,
/// even across a crash or a power cut.
fn write_atomically(dir: &Path, name: &str, run: &Finished) -> io::Result<PathBuf> {
    let bytes = serde_json::to_vec_pretty(&SpoolFile {
        version: VERSION,
        run: run.clone(),
    })
    .map_err(io::Error::other)?;
    let temporary = dir.join(format!(".{name}.tmp"));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    drop(file);
    let path = dir.join(name);
    fs::rename(&temporary, &path)?;
    // The rename itself is durable once the folder is synced.
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::child::Outcome;
    use crate::exec::counts::Counts;

    fn run(start: &str) -> Finished {
        Finished {
            integration: "NIGHTLY".into(),
            run_id: None,
            start_time: start.into(),
            end_time: "2026-03-01T02:05:00+00:00".into(),
            outcome: Outcome::Exited(3),
            counts: Counts {
                total: Some(5),
                processed: None,
            },
            output_tail: "disk full\n".into(),
            error_filed: false,
            alert: false,
        }
    }

    #[test]
    fn runs_are_kept_whole_and_listed_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path().join("spool"));
        assert!(spool.pending().unwrap().is_empty());
        let later = spool.put(&run("2026-03-01T02:00:00+00:00")).unwrap();
        let earlier = spool.put(&run("2026-02-28T02:00:00+00:00")).unwrap();
        assert_eq!(spool.pending().unwrap(), [earlier.clone(), later.clone()]);
        let mut read = Spool::read(&earlier).unwrap();
        assert_eq!(read, run("2026-02-28T02:00:00+00:00"));
        read.run_id = Some(7);
        spool.rewrite(&earlier, &read).unwrap();
        assert_eq!(Spool::read(&earlier).unwrap().run_id, Some(7));
        let rejected = spool.reject(Some(&later), &read).unwrap();
        assert!(rejected.starts_with(dir.path().join("spool").join("rejected")));
        assert_eq!(spool.pending().unwrap(), [earlier]);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(spool.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
            "{names:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_spool_is_private_and_locked_by_one_flush_at_a_time() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::new(dir.path().join("spool"));
        let path = spool.put(&run("2026-03-01T02:00:00+00:00")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(spool.dir()), 0o700);
        assert_eq!(mode(&path), 0o600);
        let held = spool.lock().unwrap();
        assert!(held.is_some());
        assert!(
            spool.lock().unwrap().is_none(),
            "a second lock while one is held"
        );
        drop(held);
        assert!(spool.lock().unwrap().is_some());
    }

    #[test]
    fn the_default_folder_follows_xdg() {
        let dir = |x: Option<&str>, h: Option<&str>| {
            Spool::default_dir(x.map(Into::into), h.map(Into::into))
        };
        assert_eq!(
            dir(Some("/state"), Some("/home/a")),
            Some(PathBuf::from("/state/runledger/spool"))
        );
        assert_eq!(
            dir(Some("relative"), Some("/home/a")),
            Some(PathBuf::from("/home/a/.local/state/runledger/spool"))
        );
        assert_eq!(dir(None, None), None);
    }
}
