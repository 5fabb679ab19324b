//! Stable storage for algorithms that recover from crashes: an append-only sequence of
//! records per rank, what [`Effect::Persist`](crate::shared::Effect::Persist) writes and
//! [`Algorithm::recover`](crate::shared::Algorithm::recover) reads back.
//!
//! - [`MemStore`] (the simulator): the records live in the rank's runner, which outlives the
//!   crash of its process.
//! - [`FileStore`] (MPI): one file per rank, each record as a 4-byte little-endian length and
//!   its bytes; `fdatasync` before anything that depends on the write leaves the rank
//!   (group commit: one sync for all the writes of a pass of the event loop); a reset writes a
//!   new file and renames it over the old one, so that a crash leaves one or the other. A torn
//!   last record (a crash in the middle of a write) is ignored on reading.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::shared::process::Durable;

/// Where a rank's records go.
pub trait Store {
    /// Carry out a write (it need not be durable before [`Store::sync`]).
    fn write(&mut self, d: &Durable);
    /// Make every write so far durable.
    fn sync(&mut self);
    /// Whether writes wait for a sync.
    fn dirty(&self) -> bool;
    /// The records stored, in order, as a restarted rank gets them.
    fn load(&mut self) -> Vec<Vec<u8>>;
    /// Records written and syncs done so far (for the report).
    fn counts(&self) -> (u64, u64);
}

/// Records kept in memory (durable by construction: the runner survives its process's crash).
#[derive(Debug, Default)]
pub struct MemStore {
    records: Vec<Vec<u8>>,
    writes: u64,
}

impl Store for MemStore {
    fn write(&mut self, d: &Durable) {
        self.writes += 1;
        match d {
            Durable::Append(r) => self.records.push(r.clone()),
            Durable::Reset(r) => self.records = vec![r.clone()],
        }
    }
    fn sync(&mut self) {}
    fn dirty(&self) -> bool {
        false
    }
    fn load(&mut self) -> Vec<Vec<u8>> {
        self.records.clone()
    }
    fn counts(&self) -> (u64, u64) {
        (self.writes, 0)
    }
}

/// Records in a file, synced with `fdatasync` unless `fsync` is off.
pub struct FileStore {
    path: PathBuf,
    file: File,
    fsync: bool,
    dirty: bool,
    buf: Vec<u8>,
    writes: u64,
    syncs: u64,
}

impl FileStore {
    /// Create (truncate) the rank's file under `dir`.
    pub fn create(dir: &Path, rank: usize, fsync: bool) -> std::io::Result<FileStore> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("rank{rank}.wal"));
        let file = File::create(&path)?;
        Ok(FileStore {
            path,
            file,
            fsync,
            dirty: false,
            buf: Vec::new(),
            writes: 0,
            syncs: 0,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn flush_buf(&mut self) {
        if !self.buf.is_empty() {
            self.file
                .write_all(&self.buf)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", self.path.display()));
            self.buf.clear();
        }
    }

    fn frame(buf: &mut Vec<u8>, r: &[u8]) {
        buf.extend_from_slice(&(r.len() as u32).to_le_bytes());
        buf.extend_from_slice(r);
    }
}

impl Store for FileStore {
    fn write(&mut self, d: &Durable) {
        self.writes += 1;
        match d {
            Durable::Append(r) => Self::frame(&mut self.buf, r),
            Durable::Reset(r) => {
                // The new file is complete and synced before it replaces the old one.
                self.buf.clear();
                let tmp = self.path.with_extension("wal.new");
                let mut bytes = Vec::with_capacity(r.len() + 4);
                Self::frame(&mut bytes, r);
                let fail =
                    |e: std::io::Error| -> ! { panic!("cannot write {}: {e}", tmp.display()) };
                let mut f = File::create(&tmp).unwrap_or_else(|e| fail(e));
                f.write_all(&bytes).unwrap_or_else(|e| fail(e));
                if self.fsync {
                    f.sync_data().unwrap_or_else(|e| fail(e));
                }
                std::fs::rename(&tmp, &self.path).unwrap_or_else(|e| fail(e));
                if self.fsync {
                    // The rename itself is durable only once the folder is synced.
                    if let Some(dir) = self.path.parent() {
                        File::open(dir)
                            .and_then(|d| d.sync_all())
                            .unwrap_or_else(|e| fail(e));
                    }
                }
                self.file = OpenOptions::new()
                    .append(true)
                    .open(&self.path)
                    .unwrap_or_else(|e| fail(e));
            }
        }
        self.dirty = true;
    }
    fn sync(&mut self) {
        self.flush_buf();
        if self.fsync && self.dirty {
            self.file
                .sync_data()
                .unwrap_or_else(|e| panic!("cannot sync {}: {e}", self.path.display()));
            self.syncs += 1;
        }
        self.dirty = false;
    }
    fn dirty(&self) -> bool {
        self.dirty
    }
    fn load(&mut self) -> Vec<Vec<u8>> {
        self.sync();
        let mut bytes = Vec::new();
        File::open(&self.path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.path.display()));
        parse(&bytes)
    }
    fn counts(&self) -> (u64, u64) {
        (self.writes, self.syncs)
    }
}

/// The records of a file's bytes; a torn last record is left out.
fn parse(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let n = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
        if bytes.len() < 4 + n {
            break;
        }
        out.push(bytes[4..4 + n].to_vec());
        bytes = &bytes[4 + n..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_store_reads_back_what_was_written_and_survives_a_reset() {
        let dir = std::env::temp_dir().join(format!("mpidist-store-test-{}", std::process::id()));
        let mut s = FileStore::create(&dir, 3, true).unwrap();
        s.write(&Durable::Append(b"one".to_vec()));
        s.write(&Durable::Append(b"two".to_vec()));
        assert!(s.dirty());
        s.sync();
        assert!(!s.dirty());
        assert_eq!(s.load(), vec![b"one".to_vec(), b"two".to_vec()]);
        s.write(&Durable::Reset(b"snap".to_vec()));
        s.write(&Durable::Append(b"three".to_vec()));
        assert_eq!(s.load(), vec![b"snap".to_vec(), b"three".to_vec()]);
        assert_eq!(s.counts().0, 4);
        // A crash in the middle of a write leaves a torn record, which is not read.
        let mut bytes = std::fs::read(s.path()).unwrap();
        bytes.extend_from_slice(&[9, 0, 0, 0, b'x']);
        std::fs::write(s.path(), &bytes).unwrap();
        assert_eq!(s.load().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_memory_store_keeps_records_in_order() {
        let mut s = MemStore::default();
        s.write(&Durable::Append(vec![1]));
        s.write(&Durable::Reset(vec![2]));
        s.write(&Durable::Append(vec![3]));
        assert_eq!(s.load(), vec![vec![2], vec![3]]);
    }
}
