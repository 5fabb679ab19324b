//! The input: a seeded Zipf corpus (`--generate SIZE`) or text files (`--input PATH...`),
//! cut into splits that any rank can read on its own, so that no rank ever holds more than a
//! split of the input (memory bounded by `--chunk`, not by the input).
//!
//! - Generated: documents of about [`DOC_BYTES`] bytes, one a line, each drawn from its own
//!   seeded stream (document `d` from `(seed, d)`): a split is a range of documents, and any
//!   rank generates any split without the others. Words follow a Zipf law (exponent 1) over a
//!   vocabulary of [`VOCABULARY`] made-up words, some capitalized and some with accents, so that
//!   lowercasing and Unicode matter.
//! - Files: every file under the paths (folders walked, in sorted order) is a document, its
//!   index in that order its id. A file is cut into byte ranges of `--chunk` bytes, each
//!   boundary moved forward to just after an ASCII whitespace byte, so that no word and no
//!   UTF-8 character is cut in two: every byte belongs to exactly one split, whoever reads it.
//!   Bytes that are not valid UTF-8 are read as U+FFFD, which separates words (counted and
//!   reported).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Nominal size of a generated document.
pub const DOC_BYTES: u64 = 2048;
/// Distinct words of the generated corpus (before capitalization).
pub const VOCABULARY: usize = 50_000;

/// A document id: a generated document's number, or a file's index.
pub type Doc = u32;

/// Where the input comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Source {
    Generated { bytes: u64, seed: u64 },
    Files(Vec<FileEntry>),
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileEntry {
    pub path: PathBuf,
    pub len: u64,
}

/// A piece of the input that one map reads: nominal bounds (files: snapped when read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Split {
    /// Generated documents `first..end`.
    Docs { first: u64, end: u64 },
    /// Bytes `start..end` of file `file` (nominal; moved to whitespace when read).
    Bytes { file: u32, start: u64, end: u64 },
}

/// What a split holds once read: the text of each document piece in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub pieces: Vec<(Doc, String)>,
    /// Bytes read (before any UTF-8 repair).
    pub bytes: u64,
    /// Invalid UTF-8 sequences, read as U+FFFD.
    pub invalid: u64,
}

impl Source {
    /// The input the options name, checked: one sentence when a path is missing or
    /// unreadable, or when the input holds nothing.
    pub fn open(generate: Option<u64>, inputs: &[PathBuf], seed: u64) -> Result<Source, String> {
        match (generate, inputs.is_empty()) {
            (Some(_), false) => Err("give either --generate SIZE or --input PATH..., not both".into()),
            (None, true) => Err("no input: give --generate SIZE (a seeded corpus, e.g. --generate 10M) or --input PATH... (files or folders of text)".into()),
            (Some(0), _) => Err("--generate 0 makes no input: give a size such as 10M".into()),
            (Some(bytes), _) => Ok(Source::Generated { bytes, seed }),
            (None, false) => {
                let mut files = Vec::new();
                for p in inputs {
                    walk(p, &mut files)?;
                }
                if files.is_empty() {
                    return Err(format!(
                        "--input {}: no files found there",
                        inputs
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                }
                if files.len() > u32::MAX as usize {
                    return Err("more than 4 billion input files".into());
                }
                Ok(Source::Files(files))
            }
        }
    }

    /// The input's size in bytes.
    pub fn bytes(&self) -> u64 {
        match self {
            Source::Generated { bytes, .. } => *bytes,
            Source::Files(f) => f.iter().map(|f| f.len).sum(),
        }
    }

    /// Documents (generated: their number; files: one each).
    pub fn documents(&self) -> u64 {
        match self {
            Source::Generated { bytes, .. } => bytes.div_ceil(DOC_BYTES),
            Source::Files(f) => f.len() as u64,
        }
    }

    /// The splits of about `chunk` bytes each, in input order.
    pub fn splits(&self, chunk: u64) -> Vec<Split> {
        let chunk = chunk.max(1);
        match self {
            Source::Generated { .. } => {
                let per = (chunk / DOC_BYTES).max(1);
                let docs = self.documents();
                (0..docs.div_ceil(per))
                    .map(|i| Split::Docs {
                        first: i * per,
                        end: ((i + 1) * per).min(docs),
                    })
                    .collect()
            }
            Source::Files(files) => {
                let mut v = Vec::new();
                for (i, f) in files.iter().enumerate() {
                    let mut s = 0;
                    while s < f.len {
                        let e = (s + chunk).min(f.len);
                        v.push(Split::Bytes {
                            file: i as u32,
                            start: s,
                            end: e,
                        });
                        s = e;
                    }
                }
                v
            }
        }
    }

    /// Read (or generate) one split.
    pub fn read(&self, split: Split) -> Result<Chunk, String> {
        match (self, split) {
            (Source::Generated { seed, .. }, Split::Docs { first, end }) => {
                let mut chunk = Chunk::default();
                for d in first..end {
                    let text = generate_doc(*seed, d);
                    chunk.bytes += text.len() as u64;
                    chunk.pieces.push((d as Doc, text));
                }
                Ok(chunk)
            }
            (Source::Files(files), Split::Bytes { file, start, end }) => {
                let f = &files[file as usize];
                read_range(&f.path, f.len, start, end)
                    .map_err(|e| format!("cannot read {}: {e}", f.path.display()))
                    .map(|(bytes, text, invalid)| Chunk {
                        pieces: vec![(file, text)],
                        bytes,
                        invalid,
                    })
            }
            _ => Err("a split of another input".into()),
        }
    }

    /// Write the generated corpus (or the files, one after the other) to `out`, split by
    /// split: what `--dump` writes for the shell baselines.
    pub fn dump(&self, chunk: u64, out: &mut impl std::io::Write) -> Result<(), String> {
        for s in self.splits(chunk) {
            let c = self.read(s)?;
            for (_, text) in &c.pieces {
                out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

fn walk(p: &Path, out: &mut Vec<FileEntry>) -> Result<(), String> {
    let meta = std::fs::metadata(p).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("--input {}: no such file or folder", p.display()),
        _ => format!("--input {}: {e}", p.display()),
    })?;
    if meta.is_dir() {
        let rd = std::fs::read_dir(p)
            .map_err(|e| format!("--input {}: cannot read the folder: {e}", p.display()))?;
        let mut entries: Vec<PathBuf> = Vec::new();
        for e in rd {
            let e =
                e.map_err(|e| format!("--input {}: cannot read the folder: {e}", p.display()))?;
            entries.push(e.path());
        }
        entries.sort();
        for e in entries {
            walk(&e, out)?;
        }
    } else {
        // Readable now (each rank reads its own ranges later).
        File::open(p).map_err(|e| format!("--input {}: cannot open it: {e}", p.display()))?;
        if meta.len() > 0 {
            out.push(FileEntry {
                path: p.to_path_buf(),
                len: meta.len(),
            });
        }
    }
    Ok(())
}

/// The first offset at or after `x` where a split may start: 0, the end, or just after an
/// ASCII whitespace byte (never inside a word or a UTF-8 character).
fn snap(f: &mut File, len: u64, x: u64) -> std::io::Result<u64> {
    if x == 0 || x >= len {
        return Ok(x.min(len));
    }
    f.seek(SeekFrom::Start(x - 1))?;
    let mut pos = x - 1;
    let mut buf = [0u8; 4096];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(len);
        }
        if let Some(i) = buf[..n].iter().position(|b| b.is_ascii_whitespace()) {
            return Ok(pos + i as u64 + 1);
        }
        pos += n as u64;
    }
}

/// Read the split `[start, end)` of a file of `len` bytes, boundaries snapped: (bytes, text,
/// invalid UTF-8 sequences).
fn read_range(path: &Path, len: u64, start: u64, end: u64) -> std::io::Result<(u64, String, u64)> {
    let mut f = File::open(path)?;
    let a = snap(&mut f, len, start)?;
    let b = snap(&mut f, len, end)?;
    if b <= a {
        return Ok((0, String::new(), 0));
    }
    f.seek(SeekFrom::Start(a))?;
    let mut bytes = vec![0u8; (b - a) as usize];
    f.read_exact(&mut bytes)?;
    let n = bytes.len() as u64;
    match String::from_utf8(bytes) {
        Ok(s) => Ok((n, s, 0)),
        Err(e) => {
            let s = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let invalid = s.matches('\u{FFFD}').count() as u64;
            Ok((n, s, invalid))
        }
    }
}

/// The vocabulary and its Zipf distribution, built once per process.
struct Zipf {
    words: Vec<String>,
    /// Cumulative probabilities.
    cdf: Vec<f64>,
    /// guide[i]: the first word whose cdf reaches i / guide.len() (a guide table: one draw is
    /// a lookup and a short scan, not a binary search).
    guide: Vec<u32>,
}

fn zipf() -> &'static Zipf {
    static Z: OnceLock<Zipf> = OnceLock::new();
    Z.get_or_init(|| {
        const SYL: [&str; 16] = [
            "ka", "lo", "mi", "ne", "ru", "ta", "si", "po", "ve", "du", "ba", "ze", "fo", "gi",
            "hu", "jo",
        ];
        let words: Vec<String> = (0..VOCABULARY)
            .map(|i| {
                let mut n = i + 1;
                let mut w = String::new();
                while n > 0 {
                    w.push_str(SYL[n % 16]);
                    n /= 16;
                }
                // Some words carry accents (non-ASCII letters).
                if i % 97 == 5 {
                    w.push('é');
                }
                if i % 211 == 7 {
                    w.insert(0, 'ñ');
                }
                w
            })
            .collect();
        let mut cdf = Vec::with_capacity(VOCABULARY);
        let mut acc = 0.0;
        for i in 0..VOCABULARY {
            acc += 1.0 / (i as f64 + 1.0);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        let g = VOCABULARY;
        let mut guide = Vec::with_capacity(g);
        let mut j = 0usize;
        for i in 0..g {
            let u = i as f64 / g as f64;
            while j + 1 < VOCABULARY && cdf[j] < u {
                j += 1;
            }
            guide.push(j as u32);
        }
        Zipf { words, cdf, guide }
    })
}

/// A small, fast seeded generator (wyrand): one stream per document.
struct Wy(u64);

impl Wy {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Document `d` of the corpus of `seed`: words drawn from the Zipf law until the document
/// reaches [`DOC_BYTES`], separated by spaces and some punctuation, ended by a newline.
pub fn generate_doc(seed: u64, d: u64) -> String {
    let z = zipf();
    let mut rng =
        Wy(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ d.wrapping_mul(0xd6e8_feb8_6659_fd93));
    rng.next();
    let mut s = String::with_capacity(DOC_BYTES as usize + 32);
    while (s.len() as u64) < DOC_BYTES {
        let u = rng.unit();
        let mut j = z.guide[((u * z.guide.len() as f64) as usize).min(z.guide.len() - 1)] as usize;
        while j + 1 < z.cdf.len() && z.cdf[j] < u {
            j += 1;
        }
        let w = &z.words[j];
        let r = rng.next();
        if r.is_multiple_of(23) {
            // Capitalized: the same word once lowercased.
            let mut cs = w.chars();
            if let Some(c) = cs.next() {
                s.extend(c.to_uppercase());
                s.push_str(cs.as_str());
            }
        } else {
            s.push_str(w);
        }
        s.push_str(match (r >> 8) % 16 {
            0 => ", ",
            1 => ". ",
            _ => " ",
        });
    }
    s.push('\n');
    s
}

/// Parse a size: bytes with an optional K, M, G suffix (powers of 1024), e.g. `64M`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("a size is a number of bytes with an optional K, M or G, got '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_documents_are_seeded_and_sized() {
        assert_eq!(generate_doc(1, 5), generate_doc(1, 5));
        assert_ne!(generate_doc(1, 5), generate_doc(1, 6));
        assert_ne!(generate_doc(1, 5), generate_doc(2, 5));
        let d = generate_doc(3, 0);
        assert!(d.len() as u64 >= DOC_BYTES && d.ends_with('\n'));
        let src = Source::Generated {
            bytes: 10 * DOC_BYTES + 1,
            seed: 1,
        };
        assert_eq!(src.documents(), 11);
        let splits = src.splits(4 * DOC_BYTES);
        assert_eq!(splits.len(), 3);
        let docs: usize = splits
            .iter()
            .map(|s| src.read(*s).unwrap().pieces.len())
            .sum();
        assert_eq!(docs, 11);
    }

    #[test]
    fn file_splits_cover_every_word_once_whatever_the_chunk() {
        let dir = std::env::temp_dir().join(format!("mr-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.txt");
        let mut text = String::new();
        for i in 0..500 {
            text.push_str(&format!("wörd{} Ünïcode-{i}\nend{}  ", i % 7, i % 3));
        }
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b" bad\xff\xfebytes tail");
        std::fs::write(&path, &bytes).unwrap();
        let src = Source::open(None, std::slice::from_ref(&dir), 0).unwrap();
        let all = |chunk: u64| {
            let mut words = Vec::new();
            let mut invalid = 0;
            for s in src.splits(chunk) {
                let c = src.read(s).unwrap();
                invalid += c.invalid;
                for (_, t) in &c.pieces {
                    super::super::text::for_each_word(t, |w| words.push(w.to_string()));
                }
            }
            (words, invalid)
        };
        let whole = all(1 << 30);
        assert!(whole.1 > 0);
        for chunk in [1, 2, 3, 7, 64, 1000] {
            assert_eq!(all(chunk).0, whole.0, "chunk {chunk}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_inputs_get_one_sentence() {
        let e = Source::open(None, &[PathBuf::from("/nonexistent/x")], 0).unwrap_err();
        assert!(e.contains("no such file"), "{e}");
        assert!(Source::open(None, &[], 0).unwrap_err().contains("no input"));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("lots").is_err());
    }
}
