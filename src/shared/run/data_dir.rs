//! `--data-dir`: what a run does with a folder that already holds files.
//!
//! Nothing is wiped silently. A folder that does not exist is created; an empty one is used.
//! One that holds only mpidist storage files (`rankN.wal`, `rankN.wal.new`: what an earlier
//! run left) is emptied of them before the run, with a note that says so. One that holds
//! anything else is refused with one sentence: mpidist never deletes what it did not write.

use std::path::Path;

/// What a folder holds before the run.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Nothing (or no folder yet).
    Nothing,
    /// Storage files of an earlier run, this many.
    Earlier(usize),
}

/// Whether a file name is one of mpidist's storage files: `rank<N>.wal` and what follows it.
pub fn is_storage_file(name: &str) -> bool {
    name.strip_prefix("rank")
        .and_then(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            (digits > 0).then(|| &rest[digits..])
        })
        .is_some_and(|rest| rest == ".wal" || rest.starts_with(".wal."))
}

/// Look into `dir`: nothing, an earlier run's storage, or (an error) a folder that is not
/// mpidist's to use, in one sentence.
pub fn inspect(dir: &Path) -> Result<Found, String> {
    let shown = dir.display();
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => return Err(format!("cannot use --data-dir {shown}: {e}")),
    };
    if !meta.is_dir() {
        return Err(format!(
            "--data-dir {shown} is a file, not a folder: name a folder (it is created if missing)"
        ));
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read --data-dir {shown}: {e}"))?;
    let mut ours = 0;
    let mut others: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read --data-dir {shown}: {e}"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && is_storage_file(&name) {
            ours += 1;
        } else {
            others.push(name);
        }
    }
    if !others.is_empty() {
        others.sort();
        let mut named = others
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if others.len() > 3 {
            named += &format!(" and {} more", others.len() - 3);
        }
        return Err(format!(
            "--data-dir {shown} holds files that are not mpidist storage ({named}): name an empty or new folder (mpidist never deletes what it did not write)"
        ));
    }
    Ok(if ours == 0 {
        Found::Nothing
    } else {
        Found::Earlier(ours)
    })
}

/// Remove an earlier run's storage files from `dir` (only those: see [`is_storage_file`]).
pub fn remove_earlier(dir: &Path) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot empty --data-dir {}: {e}", dir.display());
    for entry in std::fs::read_dir(dir).map_err(fail)? {
        let entry = entry.map_err(fail)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_file()) && is_storage_file(&name) {
            std::fs::remove_file(entry.path()).map_err(fail)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("mpidist-data-dir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn storage_files_are_recognized_by_name() {
        for ours in ["rank0.wal", "rank12.wal", "rank3.wal.new"] {
            assert!(is_storage_file(ours), "{ours}");
        }
        for other in [
            "rank.wal",
            "rankx.wal",
            "rank1.walrus",
            "notes.txt",
            "rank1",
            "",
        ] {
            assert!(!is_storage_file(other), "{other}");
        }
    }

    #[test]
    fn a_missing_or_empty_folder_is_used() {
        let d = folder("empty");
        assert_eq!(inspect(&d), Ok(Found::Nothing));
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(inspect(&d), Ok(Found::Nothing));
    }

    #[test]
    fn an_earlier_run_is_found_and_removed_but_nothing_else() {
        let d = folder("earlier");
        std::fs::create_dir_all(&d).unwrap();
        for f in ["rank0.wal", "rank1.wal", "rank1.wal.new"] {
            std::fs::write(d.join(f), b"x").unwrap();
        }
        assert_eq!(inspect(&d), Ok(Found::Earlier(3)));
        remove_earlier(&d).unwrap();
        assert_eq!(inspect(&d), Ok(Found::Nothing));
        // Anything else: refused, and left alone.
        std::fs::write(d.join("rank0.wal"), b"x").unwrap();
        std::fs::write(d.join("thesis.tex"), b"x").unwrap();
        let e = inspect(&d).unwrap_err();
        assert!(
            e.contains("holds files that are not mpidist storage (thesis.tex)"),
            "{e}"
        );
        assert!(d.join("thesis.tex").exists());
        // A file is not a folder.
        let e = inspect(&d.join("thesis.tex")).unwrap_err();
        assert!(e.contains("is a file, not a folder"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
