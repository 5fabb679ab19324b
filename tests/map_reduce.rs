//! `map-reduce`: collective mode under real mpirun at several np (one job at a time), task mode
//! in simulator sweeps with faults and under mpirun with a worker crash, results compared with
//! each other and with a word count written here from the definition, and bad input.

mod common;

use std::collections::BTreeMap;

use common::*;

/// A small generated corpus: 64 documents in 16 splits (of 4 documents: the combiner has
/// little to combine in so small a split).
const CORPUS: &str = "--generate 128K --chunk 8K";

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The word count of `text` from the definition in `--help`, written independently of the
/// binary: maximal runs of alphanumeric characters, lowercased.
fn count_words(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let mut w = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            w.extend(c.to_lowercase());
        } else if !w.is_empty() {
            *counts.entry(std::mem::take(&mut w)).or_insert(0) += 1;
        }
    }
    counts
}

fn counts_file(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .map(|l| {
            let (w, c) = l.split_once('\t').expect("word<TAB>count");
            (w.to_string(), c.parse().unwrap())
        })
        .collect()
}

#[test]
fn collective_wordcount_at_several_np_gives_one_result() {
    let rows: Vec<(usize, String)> = [1, 2, 3, 4, 8]
        .iter()
        .map(|&np| {
            let out = scratch(&format!("wc-np{np}.txt"));
            (np, format!("{CORPUS} --output {}", out.display()))
        })
        .collect();
    let jobs = mpirun_matrix("map-reduce", &rows);
    let first = read(&scratch("wc-np1.txt"));
    assert!(first.lines().count() > 1000, "a real result");
    for job in &jobs {
        let np = job.np;
        assert_eq!(read(&scratch(&format!("wc-np{np}.txt"))), first, "np {np}");
        let rep = &job.report;
        assert_eq!(rep["splits"], 16);
        assert_eq!(rep["input_bytes"], jobs[0].report["input_bytes"]);
        let names: Vec<&str> = rep["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["equals-sequential", "every-split-mapped-once"]);
        let ranks = rep["ranks"].as_array().unwrap();
        assert_eq!(ranks.len(), np);
        // Every rank mapped its share of the 16 splits.
        for r in ranks {
            let want = 16 / np as u64 + u64::from((r["rank"].as_u64().unwrap() as usize) < 16 % np);
            assert_eq!(r["output"]["chunks"], want, "np {np}");
        }
        if np > 1 {
            assert!(rep["shuffled_bytes"].as_u64().unwrap() > 0);
        }
        // The key hash spreads the keys: no reducer gets less than half its share.
        let lines = rep["result_lines"].as_u64().unwrap();
        for r in ranks {
            let keys = r["output"]["keys"].as_u64().unwrap();
            assert!(
                keys >= lines / (2 * np as u64),
                "np {np}: {keys} of {lines} keys"
            );
        }
    }
    // The generated corpus, dumped, counted here from the definition.
    let dump = scratch("corpus.txt");
    let r = direct(
        "map-reduce",
        &args(&format!("{CORPUS} --dump {}", dump.display())),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(counts_file(&first), count_words(&read(&dump)));
}

#[test]
fn collective_root_read_and_no_combiner() {
    let plain = mpirun_at("map-reduce", &[3], CORPUS).remove(0).report;
    let rows = [
        (3, format!("{CORPUS} --read root")),
        (3, format!("{CORPUS} --no-combiner")),
    ];
    let jobs = mpirun_matrix("map-reduce", &rows);
    assert_eq!(jobs[0].report["result_lines"], plain["result_lines"]);
    assert_eq!(jobs[0].report["shuffled_bytes"], plain["shuffled_bytes"]);
    let with = plain["shuffle_per_input_byte"].as_f64().unwrap();
    let without = jobs[1].report["shuffle_per_input_byte"].as_f64().unwrap();
    assert!(
        without > 1.3 * with,
        "the combiner cuts the shuffle: {with} with, {without} without"
    );
    assert_eq!(jobs[1].report["combiner"], false);
}

#[test]
fn collective_two_level_reduction_sends_less_across_groups() {
    let out = |n: &str| scratch(&format!("two-level-{n}.txt"));
    let rows = [
        (
            4,
            format!("{CORPUS} --group-size 2 --output {}", out("one").display()),
        ),
        (
            4,
            format!(
                "{CORPUS} --group-size 2 --two-level --output {}",
                out("two").display()
            ),
        ),
        (
            5,
            format!(
                "{CORPUS} --group-size 2 --two-level --job index --output {}",
                out("index").display()
            ),
        ),
        (
            5,
            format!(
                "{CORPUS} --job index --output {}",
                out("index-one").display()
            ),
        ),
    ];
    let jobs = mpirun_matrix("map-reduce", &rows);
    assert_eq!(read(&out("one")), read(&out("two")));
    assert_eq!(read(&out("index")), read(&out("index-one")));
    let (one, two) = (&jobs[0].report, &jobs[1].report);
    assert_eq!(one["groups"], 2);
    assert_eq!(two["groups"], 2);
    assert_eq!(
        jobs[2].report["groups"], 3,
        "5 ranks in groups of 2: 2, 2, 1"
    );
    assert_eq!(one["local_shuffled_bytes"], 0);
    assert!(two["local_shuffled_bytes"].as_u64().unwrap() > 0);
    let cross = |r: &serde_json::Value| r["cross_group_bytes"].as_u64().unwrap();
    assert!(
        cross(two) < cross(one),
        "the host-wide combiner sends each key across once: {} two-level, {} one level",
        cross(two),
        cross(one)
    );
}

#[test]
fn files_and_folders_with_unicode_and_invalid_utf8() {
    let dir = scratch("texts");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let a = "Hello, World! hello again; ÉTÉ été Été.\nStraße 42 x42 — naïve café\n".repeat(40);
    std::fs::write(dir.join("a.txt"), &a).unwrap();
    let mut b = b"bad \xff\xfe bytes here\nhello ".repeat(30);
    b.extend_from_slice("日本語 テスト hello".as_bytes());
    std::fs::write(dir.join("sub/b.txt"), &b).unwrap();
    std::fs::write(dir.join("sub/empty.txt"), "").unwrap();
    let out = scratch("files-wc.txt");
    let flags = format!(
        "--input {} --chunk 100 --output {}",
        dir.display(),
        out.display()
    );
    let job = mpirun_at("map-reduce", &[2], &flags).remove(0);
    assert!(job.report["invalid_utf8"].as_u64().unwrap() > 0);
    assert!(
        job.run.stdout.contains("read as U+FFFD"),
        "{}",
        job.run.stdout
    );
    let want = count_words(&(a + &String::from_utf8_lossy(&b)));
    assert_eq!(counts_file(&read(&out)), want);
}

#[test]
fn collective_mode_refuses_what_it_cannot_do() {
    for (flags, needle) in [
        ("--sim --np 2 --generate 1K", "add --mode tasks"),
        ("--generate 1K --input x", "not both"),
        ("--chunk 1K", "no input"),
        ("--input /nonexistent/texts", "no such file or folder"),
        ("--generate 1K --chunk 0", "--chunk 0"),
        ("--generate 1K --chunk lots", "a size is a number"),
        ("--generate 0", "--generate 0"),
        (
            "--mode tasks --sim --np 1 --generate 1K",
            "at least one worker",
        ),
        (
            "--mode tasks --sim --np 3 --generate 1K --slow 0",
            "--slow 0",
        ),
        (
            "--mode tasks --seeds 0..2 --np 3 --generate 1K --output x",
            "--output",
        ),
    ] {
        let r = direct("map-reduce", &args(flags));
        assert_eq!(r.code, 2, "{flags}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(needle), "{flags}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{flags}: {}", r.stderr);
    }
    for (flags, needle) in [
        ("--generate 1K --crash 1@5", "cannot lose a rank"),
        (
            "--mode tasks --sim --np 3 --generate 1K --two-level",
            "--two-level is an option of --mode collectives",
        ),
        (
            "--generate 1K --reducers 3",
            "--reducers is an option of --mode tasks",
        ),
        ("--generate 1K --drop 0.1", "cannot lose a rank"),
        (
            "--generate 1K --output /nonexistent/dir/out.txt",
            "cannot write the result",
        ),
    ] {
        let r = mpirun(2, "map-reduce", &args(flags));
        assert_eq!(r.code, 2, "{flags}: {}{}", r.stdout, r.stderr);
        assert_eq!(r.stderr.matches(needle).count(), 1, "{flags}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{flags}: {}", r.stderr);
    }
}

/// Task mode: the fault plans swept, 500 seeds each (the corpus is tiny: 8 maps of one
/// document, 6 partitions; np 4: a master and 3 workers).
const TASKS: &str = "--mode tasks --np 4 --generate 16K --chunk 2K --seeds 0..500";

#[test]
fn task_mode_sweeps_with_faults() {
    for plan in [
        "",
        // A worker crashes while maps run, another while reduces fetch (its finished maps lost).
        "--crash 1@5",
        "--crash 2@25 --crash 3@40",
        // Lossy, duplicating, reordering links.
        "--drop 0.2 --dup 0.2 --delay 0..8",
        // The master cut off from two workers for a while: declared dead, then alive again.
        "--partition 0,1|2,3@5..400",
        // A straggler: backups finish its tasks.
        "--slow 3 --slow-factor 50",
        // The master crashes: no result, termination not required, and the run still ends.
        "--crash 0@15",
        // Everything at once.
        "--crash 2@10 --drop 0.1 --dup 0.1 --delay 0..3 --slow 1",
    ] {
        let line = format!("{TASKS} {plan}");
        assert_sweep_passes("map-reduce", &args(&line));
    }
}

#[test]
fn task_mode_reexecutes_lost_work_and_backs_up_stragglers() {
    let base = "--mode tasks --sim --np 4 --generate 32K --chunk 2K";
    let out = scratch("tasks-wc.txt");
    let r = direct(
        "map-reduce",
        &args(&format!("{base} --crash 1@25 --output {}", out.display())),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("declared dead [1]"), "{}", r.stdout);
    let lost: u32 = r
        .stdout
        .split("; ")
        .find_map(|s| s.strip_suffix(" finished maps lost with their worker and run again"))
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(lost > 0, "{}", r.stdout);
    let r = direct(
        "map-reduce",
        &args(&format!("{base} --slow 3 --slow-factor 50")),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains(" 0 backups"), "{}", r.stdout);
    // The same result as collective mode's, from the same corpus.
    let coll = scratch("tasks-vs-coll.txt");
    mpirun_at(
        "map-reduce",
        &[2],
        &format!("--generate 32K --chunk 2K --output {}", coll.display()),
    );
    assert_eq!(read(&out), read(&coll));
}

/// A reducer asks for each bucket once when nothing is lost, even with links slower than the
/// resend interval: its requests are paced, not
/// resent on every tick and every resent assignment (that flood once made both workers too
/// busy to answer the master, which declared them dead and re-ran every map).
#[test]
fn task_mode_fetches_each_bucket_once_without_faults() {
    let report = scratch("tasks-fetch.json");
    let r = direct(
        "map-reduce",
        &args(&format!(
            "--mode tasks --sim --np 3 --generate 1M --chunk 4K --task-ms 0 --delay 10..30 --report {}",
            report.display()
        )),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let rep: serde_json::Value = serde_json::from_str(&read(&report)).unwrap();
    let maps = rep["tasks"]["map_runs"].as_u64().unwrap();
    assert_eq!(rep["tasks"]["maps_lost"], 0);
    let kinds = &rep["metrics"]["by_kind"];
    let fetches = kinds["Fetch"]["sent"].as_u64().unwrap();
    // 2 workers, 4 partitions: a reducer fetches the other worker's buckets, about half.
    assert!(
        fetches > 0 && fetches <= maps * 4,
        "{fetches} fetches for {maps} maps"
    );
    assert_eq!(kinds["Bucket"]["sent"], fetches);
}

#[test]
fn task_mode_under_mpirun_with_a_worker_crash() {
    for job in mpirun_at(
        "map-reduce",
        &[4],
        "--mode tasks --generate 64K --chunk 2K --task-ms 5 --crash 2@40",
    ) {
        let ranks = job.report["ranks"].as_array().unwrap();
        assert_eq!(ranks[2]["crashed"], true);
        assert!(
            job.run.stdout.contains("declared dead [2]"),
            "{}",
            job.run.stdout
        );
    }
}

/// The documents of the generated corpus (one a line, ids from 0), each as its words.
fn corpus_docs(flags: &str) -> Vec<Vec<String>> {
    let dump = scratch(&format!("docs-{}.txt", flags.replace(' ', "_")));
    let r = direct(
        "map-reduce",
        &args(&format!("{flags} --dump {}", dump.display())),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    read(&dump)
        .lines()
        .map(|l| {
            count_words(l)
                .into_iter()
                .flat_map(|(w, c)| std::iter::repeat_n(w, c as usize))
                .collect()
        })
        .collect()
}

#[test]
fn index_and_tfidf_at_several_np_match_the_definition() {
    let small = "--generate 64K --chunk 8K";
    let docs = corpus_docs(small);
    // The inverted index from the definition.
    let mut index: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (d, words) in docs.iter().enumerate() {
        for w in words {
            let e = index.entry(w.clone()).or_default();
            if e.last() != Some(&d) {
                e.push(d);
            }
        }
    }
    let want_index: String = index
        .iter()
        .map(|(w, ds)| {
            let ds: Vec<String> = ds.iter().map(|d| d.to_string()).collect();
            format!("{w}\t{}\n", ds.join(","))
        })
        .collect();
    // tf-idf from the definition: count / len * ln(N / df), top 3 by score then word.
    let n = docs.len() as f64;
    let mut want_tfidf = String::new();
    for (d, words) in docs.iter().enumerate() {
        let mut counts: BTreeMap<&String, u32> = BTreeMap::new();
        for w in words {
            *counts.entry(w).or_insert(0) += 1;
        }
        let len = words.len() as f64;
        let mut scored: Vec<(f64, &String)> = counts
            .iter()
            .map(|(w, &c)| ((c as f64 / len) * (n / index[*w].len() as f64).ln(), *w))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        for (s, w) in scored.into_iter().take(3) {
            want_tfidf.push_str(&format!("{d}\t{w}\t{s:.6}\n"));
        }
    }
    for (job, want) in [("index", &want_index), ("tfidf", &want_tfidf)] {
        let rows: Vec<(usize, String)> = [1, 2, 3, 4, 8]
            .iter()
            .map(|&np| {
                let out = scratch(&format!("{job}-np{np}.txt"));
                let f = format!("{small} --job {job} --top-k 3 --output {}", out.display());
                (np, f)
            })
            .collect();
        mpirun_matrix("map-reduce", &rows);
        for (np, _) in &rows {
            assert_eq!(
                &read(&scratch(&format!("{job}-np{np}.txt"))),
                want,
                "{job} np {np}"
            );
        }
        // Task mode, in the simulator with a crash, writes the same.
        let out = scratch(&format!("{job}-tasks.txt"));
        let r = direct(
            "map-reduce",
            &args(&format!(
                "--mode tasks --sim --np 4 {small} --job {job} --top-k 3 --crash 2@20 --output {}",
                out.display()
            )),
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert_eq!(&read(&out), want, "{job} in task mode");
    }
}

#[test]
fn index_and_tfidf_task_sweeps() {
    for job in ["index", "tfidf"] {
        // Five plans, as for wordcount: a crash during maps, lossy links, a partition and a
        // straggler, the master's crash, and a crash with loss.
        for plan in [
            "--crash 1@5",
            "--drop 0.2 --dup 0.2 --delay 0..8",
            "--partition 0|1,2,3@10..200 --slow 2",
            "--crash 0@15",
            "--crash 2@25 --drop 0.1 --dup 0.1",
        ] {
            let line = format!("{TASKS} --job {job} {plan}");
            assert_sweep_passes("map-reduce", &args(&line));
        }
    }
}
