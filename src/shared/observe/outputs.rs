//! The files a run writes (`--report`, `--trace`, `--diagram`), opened before the run starts:
//! a path that cannot be written is refused at once, not after a run of minutes.
//!
//! Opening creates a file that does not exist and leaves an existing one as it is until the
//! run writes it (truncated then). A file this run created but never wrote (a run refused
//! after the check, a setup that failed) is removed again when the [`Outputs`] are dropped.

use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

/// One output file, open for writing.
struct Output {
    /// What it holds, as the error sentences name it ("report").
    what: &'static str,
    path: PathBuf,
    file: File,
    /// This run created it (it did not exist before).
    created: bool,
    written: bool,
}

/// The run's output files, open.
#[derive(Default)]
pub struct Outputs {
    files: Vec<Output>,
}

impl Outputs {
    /// No output files (the ranks of an mpirun job other than rank 0, which writes them).
    pub fn none() -> Outputs {
        Outputs::default()
    }

    /// Open (create if missing) each named file, `(what, path)`; the first that cannot be
    /// opened for writing is named in one sentence.
    pub fn open<'a>(
        wanted: impl IntoIterator<Item = (&'static str, Option<&'a Path>)>,
    ) -> Result<Outputs, String> {
        let mut out = Outputs::none();
        for (what, path) in wanted {
            let Some(path) = path else { continue };
            let fail = |e: std::io::Error| {
                format!(
                    "cannot write the {what} to {}: {e}; choose a writable path",
                    path.display()
                )
            };
            let (file, created) = match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(f) => (f, true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => (
                    OpenOptions::new().write(true).open(path).map_err(fail)?,
                    false,
                ),
                Err(e) => return Err(fail(e)),
            };
            out.files.push(Output {
                what,
                path: path.to_path_buf(),
                file,
                created,
                written: false,
            });
        }
        Ok(out)
    }

    /// Whether the `what` file was asked for.
    pub fn wants(&self, what: &str) -> bool {
        self.files.iter().any(|o| o.what == what)
    }

    /// Replace the contents of the `what` file with `text` (nothing if it was not asked for);
    /// an error is one sentence naming the file.
    pub fn write(&mut self, what: &str, text: &str) -> Result<(), String> {
        let Some(o) = self.files.iter_mut().find(|o| o.what == what) else {
            return Ok(());
        };
        o.written = true;
        let f = &mut o.file;
        f.set_len(0)
            .and_then(|()| f.rewind())
            .and_then(|()| f.write_all(text.as_bytes()))
            .and_then(|()| f.flush())
            .map_err(|e| format!("cannot write the {what} to {}: {e}", o.path.display()))
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        for o in &self.files {
            if o.created && !o.written {
                let _ = std::fs::remove_file(&o.path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mpidist-outputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn an_unwritable_path_is_named_before_anything_runs() {
        let bad = Path::new("/nonexistent-mpidist-dir/r.json");
        let e = Outputs::open([("report", Some(bad))]).err().unwrap();
        assert!(e.starts_with("cannot write the report to /nonexistent-mpidist-dir/r.json"));
        // A folder is not a file.
        let dir = std::env::temp_dir();
        let e = Outputs::open([("trace", Some(dir.as_path()))])
            .err()
            .unwrap();
        assert!(e.starts_with("cannot write the trace to"), "{e}");
    }

    #[test]
    fn a_file_created_but_never_written_is_removed() {
        let path = scratch("unwritten.json");
        let _ = std::fs::remove_file(&path);
        {
            let out = Outputs::open([("report", Some(path.as_path())), ("trace", None)]).unwrap();
            assert!(path.exists());
            assert!(out.wants("report") && !out.wants("trace"));
        }
        assert!(!path.exists());
    }

    #[test]
    fn an_existing_file_is_kept_until_written_then_replaced() {
        let path = scratch("existing.json");
        std::fs::write(&path, "an earlier, longer report").unwrap();
        {
            let _out = Outputs::open([("report", Some(path.as_path()))]).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "an earlier, longer report"
        );
        let mut out = Outputs::open([("report", Some(path.as_path()))]).unwrap();
        out.write("report", "new").unwrap();
        out.write("trace", "not asked for").unwrap();
        drop(out);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}
