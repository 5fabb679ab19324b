//! The three jobs as map, combine, partition and reduce functions, and the pipeline that runs
//! them over any [`Exchange`]: MPI collectives at every rank, or [`Solo`], one process doing it
//! all (the sequential computation the checks compare with: the very same code).
//!
//! - `wordcount`: map emits `(word, 1)` per occurrence; combine and reduce add.
//! - `index`: map emits `(word, doc)`; combine and reduce take the sorted union of documents.
//! - `tfidf`: map emits `(word, doc)`; combine and reduce count per document, giving each word
//!   its postings `(doc, count)`. Then a second exchange routes every posting to its
//!   document's owner (`doc % np`) with the word's document frequency `df` (its number of
//!   postings); there `len(doc)` is the sum of its counts, `N` the number of documents with a
//!   word (a sum over ranks), and `score = count / len * ln(N / df)`. Each document keeps its
//!   top k words (score descending, then word), gathered at rank 0.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Write;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::input::{Chunk, Doc};
use super::text::{for_each_word, part_of, Table};

/// Which job.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    /// The count of every word.
    Wordcount,
    /// An inverted index: every word's sorted list of documents.
    Index,
    /// The top-k words of every document by tf-idf.
    Tfidf,
}

/// A shuffle among some ranks: the world's, or a group's (one host's).
pub trait Shuffle {
    fn rank(&self) -> usize;
    fn np(&self) -> usize;
    /// `send[i]` goes to rank `i`; returns what every rank sent here, in rank order.
    fn all_to_all(&self, send: &[Vec<u8>]) -> Vec<Vec<u8>>;
}

/// How the ranks of a run exchange data: the world's all-to-all, gather at rank 0, a sum.
pub trait Exchange: Shuffle {
    /// Every rank's `mine`, in rank order, at rank 0 (`None` elsewhere).
    fn gather(&self, mine: &[u8]) -> Option<Vec<Vec<u8>>>;
    /// The sum of every rank's `v`, at every rank.
    fn sum(&self, v: u64) -> u64;
    /// The largest of every rank's `v`, at every rank.
    fn max(&self, v: u64) -> u64;
}

/// One process doing every rank's part: the sequential computation.
pub struct Solo;

impl Shuffle for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn np(&self) -> usize {
        1
    }
    fn all_to_all(&self, send: &[Vec<u8>]) -> Vec<Vec<u8>> {
        send.to_vec()
    }
}

impl Exchange for Solo {
    fn gather(&self, mine: &[u8]) -> Option<Vec<Vec<u8>>> {
        Some(vec![mine.to_vec()])
    }
    fn sum(&self, v: u64) -> u64 {
        v
    }
    fn max(&self, v: u64) -> u64 {
        v
    }
}

/// A job's result, the same under every mode and np.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Sorted by word.
    Counts(Vec<(String, u64)>),
    /// Sorted by word; documents sorted.
    Index(Vec<(String, Vec<Doc>)>),
    /// Sorted by document, then score descending, then word.
    TopK(Vec<(Doc, String, f64)>),
}

impl Outcome {
    /// Lines of the result (keys, words and documents).
    pub fn len(&self) -> usize {
        match self {
            Outcome::Counts(v) => v.len(),
            Outcome::Index(v) => v.len(),
            Outcome::TopK(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Write it in the documented format: `word<TAB>count`, `word<TAB>doc,doc,...` or
    /// `doc<TAB>word<TAB>score` (score with 6 decimals), one a line.
    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        match self {
            Outcome::Counts(v) => {
                for (w, c) in v {
                    writeln!(out, "{w}\t{c}")?;
                }
            }
            Outcome::Index(v) => {
                for (w, docs) in v {
                    write!(out, "{w}\t")?;
                    for (i, d) in docs.iter().enumerate() {
                        if i > 0 {
                            out.write_all(b",")?;
                        }
                        write!(out, "{d}")?;
                    }
                    out.write_all(b"\n")?;
                }
            }
            Outcome::TopK(v) => {
                for (d, w, s) in v {
                    writeln!(out, "{d}\t{w}\t{s:.6}")?;
                }
            }
        }
        Ok(())
    }
    /// Where it differs from `expected` (the sequential result), one sentence per difference,
    /// at most `max`.
    pub fn differences(&self, expected: &Outcome, max: usize) -> Vec<String> {
        if self == expected {
            return Vec::new();
        }
        fn diff<K: Ord + Debug + Clone, V: PartialEq + Debug>(
            got: &[(K, V)],
            want: &[(K, V)],
            max: usize,
        ) -> Vec<String> {
            let g: BTreeMap<&K, &V> = got.iter().map(|(k, v)| (k, v)).collect();
            let w: BTreeMap<&K, &V> = want.iter().map(|(k, v)| (k, v)).collect();
            let mut out = Vec::new();
            if g.len() != got.len() {
                out.push(format!(
                    "{} keys appear more than once",
                    got.len() - g.len()
                ));
            }
            for (k, v) in &w {
                match g.get(k) {
                    None => out.push(format!("{k:?} missing (expected {v:?})")),
                    Some(x) if x != v => out.push(format!("{k:?}: {x:?}, expected {v:?}")),
                    _ => {}
                }
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("{k:?} is not in the sequential result"));
            }
            out.truncate(max);
            out
        }
        match (self, expected) {
            (Outcome::Counts(a), Outcome::Counts(b)) => diff(a, b, max),
            (Outcome::Index(a), Outcome::Index(b)) => diff(a, b, max),
            (Outcome::TopK(a), Outcome::TopK(b)) => {
                let key = |v: &[(Doc, String, f64)]| -> Vec<((Doc, String), u64)> {
                    v.iter()
                        .map(|(d, w, s)| ((*d, w.clone()), s.to_bits()))
                        .collect()
                };
                diff(&key(a), &key(b), max)
            }
            _ => vec!["a result of another job".into()],
        }
    }
}

/// What a job does, beyond the tokenizer: its values, how they combine, how the reduced table
/// becomes the result.
pub trait Job {
    /// The value of a key.
    type V: Serialize + DeserializeOwned + Clone + Debug + PartialEq;
    /// The value of one occurrence (the word of a document).
    fn single(doc: Doc) -> Self::V;
    /// Add one occurrence to a value (the combiner's inner step).
    fn add(v: &mut Self::V, doc: Doc);
    /// Merge two values of the same key (reduce).
    fn merge(a: &mut Self::V, b: Self::V);
    /// Turn the reduced table of each rank into the result, at rank 0.
    fn finish<E: Exchange>(ex: &E, table: Table<Self::V>, top_k: usize) -> Option<Outcome>;
}

pub struct Wordcount;
pub struct Index;
pub struct Tfidf;

/// Sort this rank's table, gather every rank's at rank 0 and merge (the keys of different
/// ranks are disjoint).
fn gather_sorted<V: Serialize + DeserializeOwned, E: Exchange>(
    ex: &E,
    table: Table<V>,
) -> Option<Vec<(String, V)>> {
    let mut mine: Vec<(String, V)> = table.into_iter().collect();
    mine.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let blob = postcard::to_allocvec(&mine).expect("encodes");
    drop(mine);
    let all = ex.gather(&blob)?;
    let mut out: Vec<(String, V)> = Vec::new();
    for b in all {
        let part: Vec<(String, V)> = postcard::from_bytes(&b).expect("a rank's result decodes");
        out.extend(part);
    }
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Some(out)
}

impl Job for Wordcount {
    type V = u64;
    fn single(_: Doc) -> u64 {
        1
    }
    #[inline]
    fn add(v: &mut u64, _: Doc) {
        *v += 1;
    }
    fn merge(a: &mut u64, b: u64) {
        *a += b;
    }
    fn finish<E: Exchange>(ex: &E, table: Table<u64>, _: usize) -> Option<Outcome> {
        gather_sorted(ex, table).map(Outcome::Counts)
    }
}

/// Merge two sorted lists of documents into their sorted union.
fn union(a: &[Doc], b: &[Doc]) -> Vec<Doc> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

impl Job for Index {
    type V = Vec<Doc>;
    fn single(doc: Doc) -> Vec<Doc> {
        vec![doc]
    }
    #[inline]
    fn add(v: &mut Vec<Doc>, doc: Doc) {
        // Within a chunk documents come in increasing order.
        match v.last() {
            Some(&l) if l == doc => {}
            Some(&l) if l < doc => v.push(doc),
            _ => *v = union(v, &[doc]),
        }
    }
    fn merge(a: &mut Vec<Doc>, b: Vec<Doc>) {
        *a = union(a, &b);
    }
    fn finish<E: Exchange>(ex: &E, table: Table<Vec<Doc>>, _: usize) -> Option<Outcome> {
        gather_sorted(ex, table).map(Outcome::Index)
    }
}

/// Postings: (document, occurrences), sorted by document.
pub type Postings = Vec<(Doc, u32)>;

fn merge_postings(a: &[(Doc, u32)], b: &[(Doc, u32)]) -> Postings {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push((a[i].0, a[i].1 + b[j].1));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

impl Job for Tfidf {
    type V = Postings;
    fn single(doc: Doc) -> Postings {
        vec![(doc, 1)]
    }
    #[inline]
    fn add(v: &mut Postings, doc: Doc) {
        match v.last_mut() {
            Some(l) if l.0 == doc => l.1 += 1,
            Some(l) if l.0 < doc => v.push((doc, 1)),
            _ => *v = merge_postings(v, &[(doc, 1)]),
        }
    }
    fn merge(a: &mut Postings, b: Postings) {
        *a = merge_postings(a, &b);
    }
    fn finish<E: Exchange>(ex: &E, table: Table<Postings>, top_k: usize) -> Option<Outcome> {
        let np = ex.np();
        // Route (doc, word, count, df) to the document's owner.
        let mut out: Vec<Vec<(Doc, &str, u32, u32)>> = vec![Vec::new(); np];
        for (w, postings) in &table {
            let df = postings.len() as u32;
            for &(d, c) in postings {
                out[d as usize % np].push((d, w.as_str(), c, df));
            }
        }
        let send: Vec<Vec<u8>> = out
            .iter()
            .map(|v| postcard::to_allocvec(v).expect("encodes"))
            .collect();
        drop(out);
        drop(table);
        let got = ex.all_to_all(&send);
        drop(send);
        let mut docs: BTreeMap<Doc, Vec<(String, u32, u32)>> = BTreeMap::new();
        for b in got {
            let v: Vec<(Doc, String, u32, u32)> = postcard::from_bytes(&b).expect("decodes");
            for (d, w, c, df) in v {
                docs.entry(d).or_default().push((w, c, df));
            }
        }
        let n = ex.sum(docs.len() as u64) as f64;
        let mut top: Vec<(Doc, String, f64)> = Vec::new();
        for (d, mut words) in docs {
            let len: u64 = words.iter().map(|w| u64::from(w.1)).sum();
            // The same order of operations everywhere: the scores compare bit for bit.
            words.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let mut scored: Vec<(f64, String)> = words
                .into_iter()
                .map(|(w, c, df)| ((c as f64 / len as f64) * (n / df as f64).ln(), w))
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            scored.truncate(top_k);
            top.extend(scored.into_iter().map(|(s, w)| (d, w, s)));
        }
        let blob = postcard::to_allocvec(&top).expect("encodes");
        let all = ex.gather(&blob)?;
        let mut res: Vec<(Doc, String, f64)> = Vec::new();
        for b in all {
            let v: Vec<(Doc, String, f64)> = postcard::from_bytes(&b).expect("decodes");
            res.extend(v);
        }
        // Stable: within a document the rank's order (score, word) stays.
        res.sort_by_key(|r| r.0);
        Some(Outcome::TopK(res))
    }
}

/// The map of one chunk, combined (one pair per distinct key) or not (one pair per
/// occurrence), cut into `parts` buckets by key hash, each encoded: what goes to reducer `i`.
/// Returns the buckets and the number of pairs emitted.
pub fn map_chunk<J: Job>(chunk: &Chunk, combine: bool, parts: usize) -> (Vec<Vec<u8>>, u64) {
    if combine {
        let mut table: Table<J::V> = Table::default();
        for (doc, text) in &chunk.pieces {
            let doc = *doc;
            for_each_word(text, |w| match table.get_mut(w) {
                Some(v) => J::add(v, doc),
                None => {
                    table.insert(w.to_owned(), J::single(doc));
                }
            });
        }
        (bucket_table::<J>(&table, parts), table.len() as u64)
    } else {
        let mut buckets: Vec<Vec<(String, J::V)>> = vec![Vec::new(); parts];
        let mut pairs = 0;
        for (doc, text) in &chunk.pieces {
            for_each_word(text, |w| {
                buckets[part_of(w, parts)].push((w.to_owned(), J::single(*doc)));
                pairs += 1;
            });
        }
        (encode_buckets(&buckets), pairs)
    }
}

/// A table cut into `parts` buckets by key hash, each encoded.
fn bucket_table<J: Job>(table: &Table<J::V>, parts: usize) -> Vec<Vec<u8>> {
    let mut buckets: Vec<Vec<(&String, &J::V)>> = vec![Vec::new(); parts];
    for (w, v) in table {
        buckets[part_of(w, parts)].push((w, v));
    }
    encode_buckets(&buckets)
}

fn encode_buckets<T: Serialize>(buckets: &[Vec<T>]) -> Vec<Vec<u8>> {
    buckets
        .iter()
        .map(|b| postcard::to_allocvec(b).expect("encodes"))
        .collect()
}

/// Merge an encoded bucket into the reducer's table.
pub fn reduce_into<J: Job>(table: &mut Table<J::V>, bucket: &[u8]) -> Result<(), String> {
    let pairs: Vec<(String, J::V)> =
        postcard::from_bytes(bucket).map_err(|e| format!("a bucket does not decode: {e}"))?;
    for (w, v) in pairs {
        match table.get_mut(&w) {
            Some(x) => J::merge(x, v),
            None => {
                table.insert(w, v);
            }
        }
    }
    Ok(())
}

/// Counts of a pipeline run at one rank.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Splits mapped here.
    pub chunks: u64,
    /// Input bytes mapped here.
    pub input_bytes: u64,
    /// Invalid UTF-8 sequences met.
    pub invalid_utf8: u64,
    /// Pairs the map emitted (after the combiner, if on).
    pub pairs: u64,
    /// Shuffle bytes sent to other ranks.
    pub shuffled_out: u64,
    /// Shuffle bytes kept (sent to itself).
    pub shuffled_self: u64,
    /// Of `shuffled_out`, the bytes sent to a rank of another group (another host).
    pub shuffled_cross: u64,
    /// Two-level: bytes sent to the other ranks of this rank's group in the first shuffle.
    pub local_out: u64,
    /// Keys this rank reduced.
    pub keys: u64,
}

/// Why a pipeline stopped early, agreed by every rank (the largest of their reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Past `--timeout`.
    TimedOut = 1,
    /// SIGINT or SIGTERM.
    Interrupted = 2,
    /// A rank could not read its split.
    Failed = 3,
}

/// A pipeline that stopped before its end: why, at which round, this rank's error if it had
/// one, and its counts so far.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub why: Stop,
    pub round: usize,
    pub error: Option<String>,
    pub stats: Stats,
}

/// Where the ranks are: every world rank's group (its host, or an emulated one), and, for the
/// two-level reduction, this rank's group's own shuffle.
pub struct Layout<'a> {
    /// `group_of[r]`: world rank r's group. Bytes shuffled between groups are counted apart.
    pub group_of: &'a [usize],
    /// Two-level: each round's map output is first shuffled and merged inside the group, so
    /// that a key leaves a host once per round, not once per rank.
    pub local: Option<&'a dyn Shuffle>,
}

impl Layout<'_> {
    /// One group, one level: the sequential computation's.
    pub const SOLO: Layout<'static> = Layout {
        group_of: &[0],
        local: None,
    };
}

/// The pipeline at one rank: `rounds` rounds, each mapping the chunk `next_chunk` gives (none
/// when this rank has no split left) and shuffling it with one all-to-all, reducing as it
/// arrives; then the job's finish. Before each shuffle the ranks agree (a maximum) on whether
/// to go on: `poll` says whether this rank is past its deadline or signalled, and a read error
/// stops everyone, so that no rank waits in a collective the others left. `Solo` with one
/// round per split is the sequential computation.
///
/// Two levels (`layout.local`, the book's "secondary reduction on a subset of nodes"): the map
/// output is cut by key hash among the group's ranks and shuffled inside the group first;
/// each rank merges what it got (a group-wide combiner), then cuts that by key hash among all
/// the ranks for the world's shuffle. The owner of a key is the same either way.
pub fn pipeline<J: Job, E: Exchange>(
    ex: &E,
    layout: &Layout,
    rounds: usize,
    combine: bool,
    top_k: usize,
    mut next_chunk: impl FnMut(usize) -> Result<Option<Chunk>, String>,
    mut poll: impl FnMut(usize) -> Option<Stop>,
) -> Result<(Option<Outcome>, Stats), Stopped> {
    let np = ex.np();
    let me = ex.rank();
    let mut table: Table<J::V> = Table::default();
    let mut stats = Stats::default();
    for round in 0..rounds {
        let (chunk, mut stop, mut error) = match next_chunk(round) {
            Ok(c) => (c, None, None),
            Err(e) => (None, Some(Stop::Failed), Some(e)),
        };
        stop = stop.max(poll(round));
        let agreed = ex.max(stop.map_or(0, |s| s as u64));
        if agreed != 0 {
            let why = match agreed {
                1 => Stop::TimedOut,
                2 => Stop::Interrupted,
                _ => Stop::Failed,
            };
            if why != Stop::Failed {
                error = None;
            }
            return Err(Stopped {
                why,
                round,
                error,
                stats,
            });
        }
        // The first cut: among the group's ranks (two levels) or all of them.
        let parts = layout.local.map_or(np, |l| l.np());
        let mut buckets = match chunk {
            Some(chunk) => {
                stats.chunks += 1;
                stats.input_bytes += chunk.bytes;
                stats.invalid_utf8 += chunk.invalid;
                let (b, pairs) = map_chunk::<J>(&chunk, combine, parts);
                stats.pairs += pairs;
                b
            }
            None => encode_buckets::<(String, J::V)>(&vec![Vec::new(); parts]),
        };
        if let Some(local) = layout.local {
            let mine = local.rank();
            stats.local_out += (buckets.iter().enumerate())
                .filter(|(to, _)| *to != mine)
                .map(|(_, b)| b.len() as u64)
                .sum::<u64>();
            let got = local.all_to_all(&buckets);
            drop(buckets);
            let mut merged: Table<J::V> = Table::default();
            for b in got {
                reduce_into::<J>(&mut merged, &b).expect("a bucket of this job decodes");
            }
            buckets = bucket_table::<J>(&merged, np);
        }
        for (to, b) in buckets.iter().enumerate() {
            if to == me {
                stats.shuffled_self += b.len() as u64;
            } else {
                stats.shuffled_out += b.len() as u64;
                if layout.group_of.get(to) != layout.group_of.get(me) {
                    stats.shuffled_cross += b.len() as u64;
                }
            }
        }
        let got = ex.all_to_all(&buckets);
        drop(buckets);
        for b in got {
            reduce_into::<J>(&mut table, &b).expect("a bucket of this job decodes");
        }
    }
    stats.keys = table.len() as u64;
    Ok((J::finish(ex, table, top_k), stats))
}

/// The sequential computation: every split, in order, in this process, with the same code.
pub fn sequential<J: Job>(
    splits: usize,
    combine: bool,
    top_k: usize,
    mut read: impl FnMut(usize) -> Result<Chunk, String>,
) -> Result<(Outcome, Stats), String> {
    let r = pipeline::<J, _>(
        &Solo,
        &Layout::SOLO,
        splits,
        combine,
        top_k,
        |i| read(i).map(Some),
        |_| None,
    );
    match r {
        Ok((Some(o), s)) => Ok((o, s)),
        Ok((None, _)) => Err("the sequential computation gave no result".into()),
        Err(s) => Err(s.error.unwrap_or_else(|| "stopped".into())),
    }
}

/// Run `f` with the job type of `kind` as `J`.
#[macro_export]
macro_rules! with_job {
    ($kind:expr, $J:ident => $body:expr) => {
        match $kind {
            $crate::algos::map_reduce::job::JobKind::Wordcount => {
                type $J = $crate::algos::map_reduce::job::Wordcount;
                $body
            }
            $crate::algos::map_reduce::job::JobKind::Index => {
                type $J = $crate::algos::map_reduce::job::Index;
                $body
            }
            $crate::algos::map_reduce::job::JobKind::Tfidf => {
                type $J = $crate::algos::map_reduce::job::Tfidf;
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(pieces: &[(Doc, &str)]) -> Chunk {
        Chunk {
            pieces: pieces.iter().map(|(d, t)| (*d, t.to_string())).collect(),
            bytes: pieces.iter().map(|p| p.1.len() as u64).sum(),
            invalid: 0,
        }
    }

    /// A hand-made exchange of `np` ranks run one after the other: every rank's sends are
    /// computed, then delivered. Only for the pipelines without a second exchange.
    fn by_hand<J: Job>(chunks: &[Chunk], np: usize, combine: bool) -> Table<J::V> {
        let mut tables: Vec<Table<J::V>> = (0..np).map(|_| Table::default()).collect();
        for c in chunks {
            let (buckets, _) = map_chunk::<J>(c, combine, np);
            for (to, b) in buckets.iter().enumerate() {
                reduce_into::<J>(&mut tables[to], b).unwrap();
            }
        }
        let mut all = Table::default();
        for t in tables {
            for (k, v) in t {
                assert!(all.insert(k, v).is_none(), "a key at two reducers");
            }
        }
        all
    }

    #[test]
    fn wordcount_with_and_without_combiner() {
        let cs = [chunk(&[(0, "a b a C")]), chunk(&[(1, "c, a! d")])];
        let want: Vec<(String, u64)> = [("a", 3), ("b", 1), ("c", 2), ("d", 1)]
            .iter()
            .map(|(w, c)| (w.to_string(), *c))
            .collect();
        for combine in [true, false] {
            for np in [1, 2, 3] {
                let mut got: Vec<(String, u64)> =
                    by_hand::<Wordcount>(&cs, np, combine).into_iter().collect();
                got.sort();
                assert_eq!(got, want, "np {np} combine {combine}");
            }
            let (out, stats) =
                sequential::<Wordcount>(2, combine, 0, |i| Ok(cs[i].clone())).unwrap();
            assert_eq!(out, Outcome::Counts(want.clone()));
            assert_eq!(stats.pairs, if combine { 6 } else { 7 });
        }
    }

    #[test]
    fn index_unions_documents() {
        let cs = [chunk(&[(0, "x y"), (2, "x")]), chunk(&[(1, "y x x")])];
        let (out, _) = sequential::<Index>(2, true, 0, |i| Ok(cs[i].clone())).unwrap();
        assert_eq!(
            out,
            Outcome::Index(vec![("x".into(), vec![0, 1, 2]), ("y".into(), vec![0, 1])])
        );
        let mut text = Vec::new();
        out.write(&mut text).unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), "x\t0,1,2\ny\t0,1\n");
    }

    #[test]
    fn tfidf_scores_by_the_formula() {
        // Doc 0: "a a b", doc 1: "a c". N = 2; df(a) = 2, df(b) = df(c) = 1.
        let cs = [chunk(&[(0, "a a b"), (1, "a c")])];
        let (out, _) = sequential::<Tfidf>(1, true, 1, |i| Ok(cs[i].clone())).unwrap();
        let ln2 = 2f64.ln();
        assert_eq!(
            out,
            Outcome::TopK(vec![
                (0, "b".into(), (1.0 / 3.0) * ln2),
                (1, "c".into(), 0.5 * ln2),
            ])
        );
    }

    #[test]
    fn differences_name_the_keys() {
        let a = Outcome::Counts(vec![("x".into(), 1), ("y".into(), 2)]);
        let b = Outcome::Counts(vec![("x".into(), 1), ("z".into(), 2)]);
        let d = a.differences(&b, 10);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(a.differences(&a, 10).is_empty());
    }
}

/// The collective pipeline on threads, one per rank, against the sequential computation: one
/// and two levels, groups of several sizes, every job.
#[cfg(test)]
mod threaded {
    use std::sync::{Barrier, Mutex};

    use super::super::input::Source;
    use super::*;

    /// A blackboard for `n` threads: each puts one blob per peer, all wait, each takes the
    /// blobs addressed to it, all wait again (so the next round cannot overwrite).
    struct Board {
        barrier: Barrier,
        slots: Mutex<Vec<Vec<Vec<u8>>>>,
    }

    impl Board {
        fn new(n: usize) -> Board {
            Board {
                barrier: Barrier::new(n),
                slots: Mutex::new(vec![Vec::new(); n]),
            }
        }
        fn exchange(&self, me: usize, send: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
            self.slots.lock().unwrap()[me] = send;
            self.barrier.wait();
            let got = (self.slots.lock().unwrap().iter())
                .map(|s| s[me].clone())
                .collect();
            self.barrier.wait();
            got
        }
    }

    struct Rank<'a> {
        me: usize,
        board: &'a Board,
        n: usize,
    }

    impl Shuffle for Rank<'_> {
        fn rank(&self) -> usize {
            self.me
        }
        fn np(&self) -> usize {
            self.n
        }
        fn all_to_all(&self, send: &[Vec<u8>]) -> Vec<Vec<u8>> {
            self.board.exchange(self.me, send.to_vec())
        }
    }

    impl Exchange for Rank<'_> {
        fn gather(&self, mine: &[u8]) -> Option<Vec<Vec<u8>>> {
            let got = self.board.exchange(self.me, vec![mine.to_vec(); self.n]);
            (self.me == 0).then_some(got)
        }
        fn sum(&self, v: u64) -> u64 {
            let got = self
                .board
                .exchange(self.me, vec![v.to_le_bytes().to_vec(); self.n]);
            got.iter()
                .map(|b| u64::from_le_bytes(b[..8].try_into().unwrap()))
                .sum()
        }
        fn max(&self, v: u64) -> u64 {
            let got = self
                .board
                .exchange(self.me, vec![v.to_le_bytes().to_vec(); self.n]);
            got.iter()
                .map(|b| u64::from_le_bytes(b[..8].try_into().unwrap()))
                .max()
                .unwrap()
        }
    }

    /// Rank 0's outcome and every rank's stats, `np` threads in groups of `k`.
    fn run<J: Job>(
        src: &Source,
        chunk: u64,
        np: usize,
        k: usize,
        two_level: bool,
    ) -> (Outcome, Vec<Stats>) {
        let splits = src.splits(chunk);
        let rounds = splits.len().div_ceil(np);
        let group_of: Vec<usize> = (0..np).map(|r| r / k).collect();
        let world = Board::new(np);
        let groups: Vec<Board> = (0..np.div_ceil(k))
            .map(|g| Board::new(group_of.iter().filter(|&&x| x == g).count()))
            .collect();
        let results: Vec<(Option<Outcome>, Stats)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..np)
                .map(|me| {
                    let (world, groups, group_of, splits) = (&world, &groups, &group_of, &splits);
                    s.spawn(move || {
                        let ex = Rank {
                            me,
                            board: world,
                            n: np,
                        };
                        let g = group_of[me];
                        let first = group_of.iter().position(|&x| x == g).unwrap();
                        let local = Rank {
                            me: me - first,
                            board: &groups[g],
                            n: group_of.iter().filter(|&&x| x == g).count(),
                        };
                        let layout = Layout {
                            group_of,
                            local: two_level.then_some(&local as &dyn Shuffle),
                        };
                        pipeline::<J, _>(
                            &ex,
                            &layout,
                            rounds,
                            true,
                            3,
                            |round| match splits.get(round * np + me) {
                                Some(&sp) => src.read(sp).map(Some),
                                None => Ok(None),
                            },
                            |_| None,
                        )
                        .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stats = results.iter().map(|r| r.1).collect();
        (results.into_iter().next().unwrap().0.unwrap(), stats)
    }

    fn agrees<J: Job>() {
        let src = Source::open(Some(48 * 1024), &[], 7).unwrap();
        let chunk = 4096;
        let splits = src.splits(chunk);
        let (want, _) = sequential::<J>(splits.len(), true, 3, |i| src.read(splits[i])).unwrap();
        for np in 1..=5 {
            for k in 1..=3 {
                let (one, s1) = run::<J>(&src, chunk, np, k, false);
                let (two, s2) = run::<J>(&src, chunk, np, k, true);
                assert!(
                    one.differences(&want, 3).is_empty(),
                    "np {np} k {k} one level"
                );
                assert!(
                    two.differences(&want, 3).is_empty(),
                    "np {np} k {k} two levels"
                );
                let cross = |s: &[Stats]| s.iter().map(|x| x.shuffled_cross).sum::<u64>();
                let local = |s: &[Stats]| s.iter().map(|x| x.local_out).sum::<u64>();
                assert_eq!(local(&s1), 0);
                if k == 1 || np == 1 {
                    // Groups of one rank have nothing to shuffle among themselves.
                    assert_eq!(local(&s2), 0, "np {np} k {k}");
                } else {
                    assert!(local(&s2) > 0, "np {np} k {k}");
                }
                if np > k && k > 1 {
                    // The group-wide combiner sends each key across once per group.
                    assert!(
                        cross(&s2) < cross(&s1),
                        "np {np} k {k}: {} vs {}",
                        cross(&s2),
                        cross(&s1)
                    );
                }
            }
        }
    }

    #[test]
    fn wordcount_on_one_and_two_levels_equals_the_sequential_computation() {
        agrees::<Wordcount>();
    }

    #[test]
    fn index_on_one_and_two_levels_equals_the_sequential_computation() {
        agrees::<Index>();
    }

    #[test]
    fn tfidf_on_one_and_two_levels_equals_the_sequential_computation() {
        agrees::<Tfidf>();
    }
}
