//! Stable storage for algorithms that recover from crashes: an append-only sequence of
//! records per rank, what [`Effect::Persist`](crate::shared::Effect::Persist) writes and
//! [`Algorithm::recover`](crate::shared::Algorithm::recover) reads back.
//!
//! Both stores keep the same bytes, in the format of [`super::wal`] (a file header, then each
//! record framed with its length and CRC-32C), and read them back through the same
//! [`wal::scan`], so that every simulated restart exercises the checks of a real one.
//! - [`MemStore`] (the simulator): the bytes live in the rank's runner, which outlives the
//!   crash of its process.
//! - [`FileStore`] (MPI): one file per rank, created with its header (synced, with its
//!   folder); `fdatasync` before anything that depends on a write leaves the rank (group
//!   commit: one sync for all the writes of a pass of the event loop); a reset writes a new
//!   file and renames it over the old one, so that a crash leaves one or the other.
//!
//! Invariants:
//! - the store remembers how many bytes it made durable (`kept`: synced, or written with
//!   `--no-fsync`). On a restart, anything missing, torn or garbled before that point is
//!   corruption ([`StorageFault::Lost`]); an incomplete write after it is a torn tail, cut
//!   away (the file is truncated, so later appends follow the last good record) and reported;
//! - what a crashed process had not yet handed to the OS is lost with it: nothing that
//!   depended on it has left (sends wait for the sync);
//! - no error panics: a failed write, sync or read comes back as a [`StorageFault`] naming
//!   the file, and the runner stops the rank.
//!
//! Why a rank whose storage is lost must not rejoin: Raft's safety rests on a server never
//! forgetting its term, its vote or the entries it acknowledged. One that comes back with
//! less can vote twice in a term or let a leader count it towards a majority for entries it
//! no longer has, and a committed entry can be lost (Ongaro, "Consensus: Bridging Theory and
//! Practice", 2014, §11.7.3; Alagappan et al., "Protocol-Aware Recovery for Consensus-Based
//! Storage", FAST'18, which shows real systems losing data this way). Repairing it safely
//! needs the protocol's help (rejoin as a non-voting member, learn from a majority); this
//! project takes the simple, safe choice: the rank stays down and the run says which file,
//! at which byte.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use super::wal;
use crate::shared::observe::report::{StorageFault, TornTail};
use crate::shared::process::Durable;

/// Records read back on a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    pub records: Vec<Vec<u8>>,
    /// The byte offset of each record's frame (to name a record that does not replay).
    pub offsets: Vec<u64>,
    /// A torn tail that was cut away.
    pub torn: Option<TornTail>,
}

/// Where a rank's records go.
pub trait Store {
    /// Carry out a write (it need not be durable before [`Store::sync`]).
    fn write(&mut self, d: &Durable) -> Result<(), StorageFault>;
    /// Make every write so far durable.
    fn sync(&mut self) -> Result<(), StorageFault>;
    /// Whether writes wait for a sync.
    fn dirty(&self) -> bool;
    /// After a crash: the records stored, in order, as a restarted rank gets them; a torn
    /// tail is cut away, anything else wrong is a [`StorageFault::Lost`].
    fn load(&mut self) -> Result<Loaded, StorageFault>;
    /// Records written and syncs done so far (for the report).
    fn counts(&self) -> (u64, u64);
    /// The file (or what stands for it), for messages.
    fn name(&self) -> String;
}

/// The bytes of a store with its header and one record: what a reset leaves.
fn fresh(record: &[u8]) -> Result<Vec<u8>, String> {
    let mut b = wal::header().to_vec();
    wal::frame(&mut b, record)?;
    Ok(b)
}

/// Records kept in memory (durable by construction: the runner survives its process's crash),
/// in the file format.
#[derive(Debug)]
pub struct MemStore {
    bytes: Vec<u8>,
    writes: u64,
}

impl Default for MemStore {
    fn default() -> Self {
        MemStore {
            bytes: wal::header().to_vec(),
            writes: 0,
        }
    }
}

impl MemStore {
    /// The stored bytes, for tests that damage them.
    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    fn failed(&self, error: String) -> StorageFault {
        StorageFault::WriteFailed {
            file: self.name(),
            error,
        }
    }
}

impl Store for MemStore {
    fn write(&mut self, d: &Durable) -> Result<(), StorageFault> {
        self.writes += 1;
        match d {
            Durable::Append(r) => wal::frame(&mut self.bytes, r).map_err(|e| self.failed(e)),
            Durable::Reset(r) => {
                self.bytes = fresh(r).map_err(|e| self.failed(e))?;
                Ok(())
            }
        }
    }
    fn sync(&mut self) -> Result<(), StorageFault> {
        Ok(())
    }
    fn dirty(&self) -> bool {
        false
    }
    fn load(&mut self) -> Result<Loaded, StorageFault> {
        let kept = self.bytes.len() as u64;
        let scan = wal::scan(&self.bytes, Some(kept)).map_err(|c| StorageFault::Lost {
            file: self.name(),
            offset: c.offset,
            why: c.why,
        })?;
        Ok(Loaded {
            records: scan.records,
            offsets: scan.offsets,
            torn: None,
        })
    }
    fn counts(&self) -> (u64, u64) {
        (self.writes, 0)
    }
    fn name(&self) -> String {
        "the simulated store".into()
    }
}

/// Records in a file, synced with `fdatasync` unless `fsync` is off.
pub struct FileStore {
    path: PathBuf,
    file: File,
    fsync: bool,
    dirty: bool,
    /// Appends not yet handed to the OS (written at the next sync).
    buf: Vec<u8>,
    /// Bytes of the file handed to the OS, and of those the bytes synced.
    written: u64,
    synced: u64,
    writes: u64,
    syncs: u64,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().append(true).open(path)
}

/// Make a rename or a creation in `path`'s folder durable.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

impl FileStore {
    /// Create (truncate) the rank's file under `dir`, with its header, durable.
    pub fn create(dir: &Path, rank: usize, fsync: bool) -> std::io::Result<FileStore> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("rank{rank}.wal"));
        let mut f = File::create(&path)?;
        f.write_all(&wal::header())?;
        if fsync {
            f.sync_data()?;
            sync_dir(&path)?;
        }
        drop(f);
        let n = wal::HEADER_LEN as u64;
        Ok(FileStore {
            file: open_append(&path)?,
            path,
            fsync,
            dirty: false,
            buf: Vec::new(),
            written: n,
            synced: n,
            writes: 0,
            syncs: 0,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the store knows to be durable: synced, or written when syncs are off.
    fn kept(&self) -> u64 {
        if self.fsync {
            self.synced
        } else {
            self.written
        }
    }

    fn failed(&self, path: &Path, e: impl std::fmt::Display) -> StorageFault {
        StorageFault::WriteFailed {
            file: path.display().to_string(),
            error: e.to_string(),
        }
    }

    fn lost(&self, offset: u64, why: String) -> StorageFault {
        StorageFault::Lost {
            file: self.path.display().to_string(),
            offset,
            why,
        }
    }

    /// Replace the file by one holding `bytes`, durable before it takes the old one's place.
    fn replace(&mut self, bytes: &[u8]) -> Result<(), StorageFault> {
        let tmp = self.path.with_extension("wal.new");
        let fail = |e: std::io::Error| self.failed(&tmp, e);
        let mut f = File::create(&tmp).map_err(fail)?;
        f.write_all(bytes).map_err(fail)?;
        if self.fsync {
            f.sync_data().map_err(fail)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| self.failed(&self.path, e))?;
        if self.fsync {
            // The rename itself is durable only once the folder is synced.
            sync_dir(&self.path).map_err(|e| self.failed(&self.path, e))?;
        }
        self.file = open_append(&self.path).map_err(|e| self.failed(&self.path, e))?;
        self.written = bytes.len() as u64;
        self.synced = self.written;
        Ok(())
    }
}

impl Store for FileStore {
    fn write(&mut self, d: &Durable) -> Result<(), StorageFault> {
        self.writes += 1;
        self.dirty = true;
        match d {
            Durable::Append(r) => {
                wal::frame(&mut self.buf, r).map_err(|e| self.failed(&self.path, e))
            }
            Durable::Reset(r) => {
                // The new file replaces what is buffered too.
                self.buf.clear();
                let bytes = fresh(r).map_err(|e| self.failed(&self.path, e))?;
                self.replace(&bytes)
            }
        }
    }
    fn sync(&mut self) -> Result<(), StorageFault> {
        if !self.buf.is_empty() {
            let r = self.file.write_all(&self.buf);
            // On a partial write, `written` stays at the last whole write: what follows is a
            // torn tail.
            r.map_err(|e| self.failed(&self.path, e))?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        if self.fsync && self.dirty {
            self.file
                .sync_data()
                .map_err(|e| self.failed(&self.path, e))?;
            self.synced = self.written;
            self.syncs += 1;
        }
        self.dirty = false;
        Ok(())
    }
    fn dirty(&self) -> bool {
        self.dirty
    }
    fn load(&mut self) -> Result<Loaded, StorageFault> {
        // What the crashed process had not handed to the OS is gone with it.
        self.buf.clear();
        self.dirty = false;
        let mut bytes = Vec::new();
        if let Err(e) = File::open(&self.path).and_then(|mut f| f.read_to_end(&mut bytes)) {
            let why = if e.kind() == ErrorKind::NotFound {
                "the file is missing".to_string()
            } else {
                format!("it cannot be read: {e}")
            };
            return Err(self.lost(0, why));
        }
        let scan = wal::scan(&bytes, Some(self.kept())).map_err(|c| self.lost(c.offset, c.why))?;
        let torn = (scan.torn > 0).then(|| TornTail {
            file: self.path.display().to_string(),
            offset: scan.end,
            bytes: scan.torn,
        });
        // Cut the torn tail, make what was read durable, and append after it from now on.
        let fail = |e: std::io::Error| self.failed(&self.path, e);
        let file = open_append(&self.path).map_err(fail)?;
        if torn.is_some() {
            file.set_len(scan.end).map_err(fail)?;
        }
        if self.fsync {
            file.sync_data().map_err(fail)?;
        }
        self.file = file;
        self.written = scan.end;
        self.synced = scan.end;
        Ok(Loaded {
            records: scan.records,
            offsets: scan.offsets,
            torn,
        })
    }
    fn counts(&self) -> (u64, u64) {
        (self.writes, self.syncs)
    }
    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder for one test.
    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("mpidist-store-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// A synced store holding "one" and "two".
    fn two(name: &str) -> (PathBuf, FileStore) {
        let d = dir(name);
        let mut s = FileStore::create(&d, 3, true).unwrap();
        s.write(&Durable::Append(b"one".to_vec())).unwrap();
        s.write(&Durable::Append(b"two".to_vec())).unwrap();
        s.sync().unwrap();
        (d, s)
    }

    fn lost(s: &mut FileStore) -> (u64, String) {
        match s.load() {
            Err(StorageFault::Lost { file, offset, why }) => {
                assert_eq!(file, s.path().display().to_string());
                (offset, why)
            }
            other => panic!("expected the storage lost, got {other:?}"),
        }
    }

    #[test]
    fn a_file_store_reads_back_what_was_written_and_survives_a_reset() {
        let (d, mut s) = two("reset");
        assert!(!s.dirty());
        assert_eq!(
            s.load().unwrap().records,
            vec![b"one".to_vec(), b"two".to_vec()]
        );
        s.write(&Durable::Reset(b"snap".to_vec())).unwrap();
        s.write(&Durable::Append(b"three".to_vec())).unwrap();
        assert!(s.dirty());
        s.sync().unwrap();
        let l = s.load().unwrap();
        assert_eq!(l.records, vec![b"snap".to_vec(), b"three".to_vec()]);
        assert_eq!(l.offsets, vec![8, 8 + 12 + 4]);
        assert_eq!(s.counts(), (4, 2));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_torn_tail_is_cut_from_the_file_and_later_appends_follow_the_last_record() {
        let (d, mut s) = two("torn");
        let good = std::fs::metadata(s.path()).unwrap().len();
        // A crash in the middle of an append: a frame header that announces 9 bytes, and 1.
        let mut f = OpenOptions::new().append(true).open(s.path()).unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, b'x'])
            .unwrap();
        drop(f);
        let l = s.load().unwrap();
        assert_eq!(l.records.len(), 2);
        let t = l.torn.unwrap();
        assert_eq!((t.offset, t.bytes), (good, 13));
        assert_eq!(std::fs::metadata(s.path()).unwrap().len(), good);
        s.write(&Durable::Append(b"three".to_vec())).unwrap();
        s.sync().unwrap();
        let l = s.load().unwrap();
        assert_eq!(l.records.last().unwrap(), b"three");
        assert_eq!(l.torn, None);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_byte_flipped_mid_file_is_named_with_its_offset() {
        let (d, mut s) = two("flip");
        let mut bytes = std::fs::read(s.path()).unwrap();
        // In the payload of the second record ("two", its frame at 8 + 15).
        bytes[8 + 15 + 12 + 1] ^= 0x01;
        std::fs::write(s.path(), &bytes).unwrap();
        let (offset, why) = lost(&mut s);
        assert_eq!(offset, 8 + 15);
        assert!(why.contains("checksum"), "{why}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_zero_filled_file_is_lost_storage_not_empty_records() {
        let (d, mut s) = two("zeros");
        let n = std::fs::metadata(s.path()).unwrap().len() as usize;
        std::fs::write(s.path(), vec![0u8; n]).unwrap();
        let (offset, why) = lost(&mut s);
        assert_eq!(offset, 0);
        assert!(why.contains("zero-filled"), "{why}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_truncated_to_zero_or_missing_is_lost_storage() {
        let (d, mut s) = two("gone");
        std::fs::write(s.path(), b"").unwrap();
        let (offset, why) = lost(&mut s);
        assert_eq!(offset, 0);
        assert!(why.contains("empty"), "{why}");
        // Cut at a record boundary: only what was durable tells.
        let (_, mut s) = two("gone");
        let f = OpenOptions::new().write(true).open(s.path()).unwrap();
        f.set_len(8 + 15).unwrap();
        let (offset, why) = lost(&mut s);
        assert_eq!(offset, 8 + 15);
        assert!(why.contains("durable up to byte 38"), "{why}");
        let (_, mut s) = two("gone");
        std::fs::remove_file(s.path()).unwrap();
        let (offset, why) = lost(&mut s);
        assert_eq!((offset, why.as_str()), (0, "the file is missing"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_folder_in_place_of_the_file_fails_reads_and_writes_without_a_panic() {
        let (d, mut s) = two("folder");
        std::fs::remove_file(s.path()).unwrap();
        std::fs::create_dir(s.path()).unwrap();
        let (offset, why) = lost(&mut s);
        assert_eq!(offset, 0);
        assert!(why.contains("cannot be read"), "{why}");
        // A snapshot renamed over a folder fails, named.
        match s.write(&Durable::Reset(b"snap".to_vec())) {
            Err(StorageFault::WriteFailed { file, error }) => {
                assert_eq!(file, s.path().display().to_string());
                assert!(!error.is_empty());
            }
            other => panic!("expected a write failure, got {other:?}"),
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_full_disk_fails_the_sync_with_the_os_error() {
        let (d, mut s) = two("full");
        // /dev/full answers every write with ENOSPC, as a full disk does.
        s.file = OpenOptions::new().append(true).open("/dev/full").unwrap();
        s.write(&Durable::Append(b"three".to_vec())).unwrap();
        match s.sync() {
            Err(StorageFault::WriteFailed { file, error }) => {
                assert_eq!(file, s.path().display().to_string());
                assert!(error.contains("No space left on device"), "{error}");
            }
            other => panic!("expected a write failure, got {other:?}"),
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_memory_store_keeps_records_in_order_and_checks_them_like_a_file() {
        let mut s = MemStore::default();
        s.write(&Durable::Append(vec![1])).unwrap();
        s.write(&Durable::Reset(vec![2])).unwrap();
        s.write(&Durable::Append(vec![3])).unwrap();
        assert_eq!(s.load().unwrap().records, vec![vec![2], vec![3]]);
        let n = s.bytes_mut().len();
        s.bytes_mut()[n - 1] ^= 1;
        assert!(matches!(
            s.load(),
            Err(StorageFault::Lost { offset: 21, .. })
        ));
    }
}
