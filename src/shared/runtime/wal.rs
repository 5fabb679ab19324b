//! The on-disk format of stable storage, shared by the file store (MPI) and the in-memory one
//! (the simulator), so that every simulated restart reads its records back through the same
//! checks as a real one.
//!
//! ```text
//! file   = header frame*
//! header = "MPDWAL" version:u16le                          (8 bytes)
//! frame  = len:u32le crc:u32le head_crc:u32le payload     (12 bytes + len)
//!          crc      = CRC-32C (Castagnoli) of the payload
//!          head_crc = CRC-32C of the frame's first 8 bytes (len and crc)
//! ```
//!
//! The frame header has its own checksum so that a flipped bit in a length is corruption, not
//! a frame that seems to run past the end of the file (which is what a crash in the middle of
//! an append leaves).
//!
//! Reading ([`scan`]) tells three things apart:
//! - **the records**: every complete frame whose checksums hold, in order;
//! - **a torn tail**: the last frame incomplete (header or payload cut short, or only zeros up
//!   to the end: a crash after the file grew but before its data reached the disk), or a
//!   complete but garbled frame that lies wholly beyond what the writer knew to be durable. It
//!   was never acknowledged (every send that depends on a write waits for its sync), so it is
//!   cut away;
//! - **corruption**: a bad file header (empty, zero-filled, foreign, another version), a frame
//!   with a bad checksum, or anything missing or torn before the end of what the writer made
//!   durable (`kept`). The records may have been acknowledged: the caller must not carry on
//!   without them.
//!
//! `kept` is what the writer knows it made durable before the crash. The crashes of this
//! project are simulated (the process stays alive), so the store remembers it; a process
//! that starts afresh on an old file passes `None` and relies on the format alone, where a
//! garbled last frame cannot be told from a torn one (Alagappan et al., "Protocol-Aware
//! Recovery for Consensus-Based Storage", FAST'18, §3) and is treated as corruption.

/// The file's first bytes.
pub const MAGIC: [u8; 6] = *b"MPDWAL";
/// The format this build writes and reads.
pub const VERSION: u16 = 1;
/// Bytes of the file header.
pub const HEADER_LEN: usize = 8;
/// Bytes of a frame's header.
pub const FRAME_HEAD: usize = 12;

/// The file header.
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..6].copy_from_slice(&MAGIC);
    h[6..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Append `payload` to `buf` as one frame; refused if it is 4 GiB or more.
pub fn frame(buf: &mut Vec<u8>, payload: &[u8]) -> Result<(), String> {
    let len = u32::try_from(payload.len()).map_err(|_| {
        format!(
            "a record of {} bytes is over the 4 GiB a frame holds",
            payload.len()
        )
    })?;
    let mut head = [0u8; FRAME_HEAD];
    head[..4].copy_from_slice(&len.to_le_bytes());
    head[4..8].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let head_crc = crc32c::crc32c(&head[..8]);
    head[8..].copy_from_slice(&head_crc.to_le_bytes());
    buf.extend_from_slice(&head);
    buf.extend_from_slice(payload);
    Ok(())
}

/// What a file holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scan {
    pub records: Vec<Vec<u8>>,
    /// The byte offset of each record's frame.
    pub offsets: Vec<u64>,
    /// The end of the last good frame: where a torn tail starts, and the file's length once
    /// it is cut.
    pub end: u64,
    /// Bytes of a torn tail after `end` (0: none).
    pub torn: u64,
}

/// Why a file cannot be trusted: where, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt {
    pub offset: u64,
    pub why: String,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Read a file's bytes back. `kept`: the bytes the writer knew to be durable, if it knows.
pub fn scan(bytes: &[u8], kept: Option<u64>) -> Result<Scan, Corrupt> {
    let total = bytes.len() as u64;
    let bad = |offset: u64, why: String| Err(Corrupt { offset, why });
    if bytes.len() < HEADER_LEN {
        let why = if bytes.is_empty() {
            "the file is empty, without even its header".to_string()
        } else {
            format!("the file is {total} bytes, shorter than its header")
        };
        return bad(0, why);
    }
    if bytes[..HEADER_LEN].iter().all(|&b| b == 0) {
        let zeros = bytes.iter().take_while(|&&b| b == 0).count();
        return bad(
            0,
            format!("the file is zero-filled ({zeros} zero bytes from its start)"),
        );
    }
    if bytes[..6] != MAGIC {
        return bad(0, "not a storage file of this project (bad magic)".into());
    }
    let version = u16::from_le_bytes([bytes[6], bytes[7]]);
    if version != VERSION {
        return bad(
            0,
            format!("format version {version}, this build reads version {VERSION}"),
        );
    }
    let mut scan = Scan {
        end: HEADER_LEN as u64,
        ..Scan::default()
    };
    let mut at = HEADER_LEN;
    // A problem from `at` to the end: a torn tail if nothing durable is there, else corruption.
    let tail = |scan: Scan, at: usize, what: &str| -> Result<Scan, Corrupt> {
        let at = at as u64;
        match kept {
            Some(k) if at < k => Err(Corrupt {
                offset: at,
                why: format!("{what}, but the file was durable up to byte {k}"),
            }),
            _ => Ok(Scan {
                torn: total - at,
                ..scan
            }),
        }
    };
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < FRAME_HEAD {
            return tail(scan, at, "the last frame's header is cut short");
        }
        let (len, crc, head_crc) = (u32_at(rest, 0), u32_at(rest, 4), u32_at(rest, 8));
        if crc32c::crc32c(&rest[..8]) != head_crc {
            if rest.iter().all(|&b| b == 0) {
                return tail(scan, at, "the file ends in zeros");
            }
            if kept.is_some_and(|k| at as u64 >= k) {
                return tail(scan, at, "");
            }
            return bad(at as u64, "a frame header's checksum does not match".into());
        }
        let len = len as usize;
        if rest.len() - FRAME_HEAD < len {
            return tail(scan, at, "the last frame is cut short");
        }
        let payload = &rest[FRAME_HEAD..FRAME_HEAD + len];
        if crc32c::crc32c(payload) != crc {
            if kept.is_some_and(|k| at as u64 >= k) {
                return tail(scan, at, "");
            }
            return bad(
                at as u64,
                format!("the checksum of a {len}-byte record does not match"),
            );
        }
        scan.records.push(payload.to_vec());
        scan.offsets.push(at as u64);
        at += FRAME_HEAD + len;
        scan.end = at as u64;
    }
    if let Some(k) = kept.filter(|&k| total < k) {
        return bad(
            total,
            format!("the file ends at byte {total}, but it was durable up to byte {k}"),
        );
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(records: &[&[u8]]) -> Vec<u8> {
        let mut b = header().to_vec();
        for r in records {
            frame(&mut b, r).unwrap();
        }
        b
    }

    #[test]
    fn records_come_back_in_order_with_their_offsets() {
        let b = file(&[b"one", b"", b"three"]);
        let s = scan(&b, Some(b.len() as u64)).unwrap();
        assert_eq!(s.records, vec![b"one".to_vec(), vec![], b"three".to_vec()]);
        assert_eq!(s.offsets, vec![8, 8 + 15, 8 + 15 + 12]);
        assert_eq!((s.end, s.torn), (b.len() as u64, 0));
        assert_eq!(scan(&header(), None).unwrap().records.len(), 0);
    }

    #[test]
    fn a_torn_tail_is_found_with_its_offset() {
        let good = file(&[b"one", b"two"]);
        let end = good.len() as u64;
        // Cut in the payload, in the frame header, and zeros after the file grew.
        let mut whole = good.clone();
        frame(&mut whole, b"three").unwrap();
        for cut in [whole.len() - 2, good.len() + 5] {
            let s = scan(&whole[..cut], Some(end)).unwrap();
            assert_eq!((s.records.len(), s.end, s.torn), (2, end, cut as u64 - end));
            // Without knowing what was durable, an incomplete last frame is still torn.
            assert_eq!(scan(&whole[..cut], None).unwrap().end, end);
        }
        let mut zeros = good.clone();
        zeros.extend_from_slice(&[0; 40]);
        let s = scan(&zeros, None).unwrap();
        assert_eq!((s.end, s.torn), (end, 40));
        // A garbled frame past what was durable (never synced) is torn too.
        let mut garbled = whole.clone();
        let n = garbled.len();
        garbled[n - 1] ^= 1;
        assert_eq!(scan(&garbled, Some(end)).unwrap().torn, (n as u64) - end);
    }

    #[test]
    fn a_flipped_byte_anywhere_before_the_tail_is_corruption_at_its_frame() {
        let b = file(&[b"first record", b"second record", b"third record"]);
        let offsets = scan(&b, None).unwrap().offsets;
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            let e = scan(&c, Some(b.len() as u64)).unwrap_err();
            let frame_start = offsets.iter().rev().find(|&&o| o as usize <= i).copied();
            assert_eq!(e.offset, frame_start.unwrap_or(0), "byte {i}: {e:?}");
        }
        // A complete last frame with a bad checksum, with nothing known: corruption.
        let mut c = b.clone();
        let n = c.len();
        c[n - 1] ^= 1;
        assert!(scan(&c, None).unwrap_err().why.contains("checksum"));
    }

    #[test]
    fn empty_zeroed_foreign_and_future_files_are_refused() {
        let b = file(&[b"x"]);
        for (bytes, says) in [
            (Vec::new(), "empty"),
            (vec![0u8; 4096], "zero-filled"),
            (b"{\"not\": \"a wal\"}".to_vec(), "bad magic"),
            (vec![b'M', b'P'], "shorter than its header"),
        ] {
            let e = scan(&bytes, None).unwrap_err();
            assert_eq!(e.offset, 0);
            assert!(e.why.contains(says), "{e:?}");
        }
        let mut v2 = b.clone();
        v2[6] = 2;
        assert!(scan(&v2, None).unwrap_err().why.contains("version 2"));
    }

    #[test]
    fn a_file_shorter_than_what_was_durable_is_corruption() {
        let b = file(&[b"one", b"two"]);
        let first_end = 8 + 12 + 3;
        // Cut at a frame boundary: the format alone cannot tell, what was kept can.
        assert_eq!(scan(&b[..first_end], None).unwrap().records.len(), 1);
        let e = scan(&b[..first_end], Some(b.len() as u64)).unwrap_err();
        assert_eq!(e.offset, first_end as u64);
        // Cut inside a durable frame.
        let e = scan(&b[..b.len() - 1], Some(b.len() as u64)).unwrap_err();
        assert_eq!(e.offset, first_end as u64);
        assert!(e.why.contains("durable up to byte"), "{e:?}");
        // Zeroed from a durable frame on.
        let mut z = b.clone();
        z[first_end..].fill(0);
        assert_eq!(
            scan(&z, Some(b.len() as u64)).unwrap_err().offset,
            first_end as u64
        );
    }
}
