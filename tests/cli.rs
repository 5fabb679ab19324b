//! Bad input: one sentence naming the problem, exit 2, no panic.

mod common;

use common::*;

fn assert_usage(name: &str, args: &[&str], needle: &str) {
    let r = direct(name, args);
    assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(needle),
        "{args:?}: expected '{needle}' in: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn bad_flag_values() {
    assert_usage(
        "lamport",
        &args("--sim --np 4 --drop 1.5"),
        "between 0 and 1",
    );
    assert_usage("lamport", &args("--sim --np 4 --dup x"), "probability");
    assert_usage(
        "vector",
        &args("--sim --np 4 --pattern star"),
        "invalid value 'star'",
    );
    assert_usage(
        "lamport",
        &args("--sim --np 4 --pattern ring"),
        "invalid value 'ring'",
    );
    assert_usage(
        "vector",
        &args("--sim --np 4 --delay 5..1"),
        "MIN must not exceed MAX",
    );
    assert_usage("vector", &args("--sim --np 4 --crash 2"), "RANK@MS");
    assert_usage(
        "vector",
        &args("--sim --np 4 --partition 0,1@1..2"),
        "two groups",
    );
    assert_usage("vector", &args("--sim --np 4 --timeout 0"), "timeout");
    assert_usage("vector", &args("--seeds 3..3 --np 2"), "empty");
    assert_usage("vector", &args("--sim --np 4 --rounds 0"), "--rounds");
    assert_usage(
        "lamport",
        &args("--sim --np 4 --bogus"),
        "unexpected argument",
    );
}

#[test]
fn values_out_of_range() {
    assert_usage(
        "vector",
        &args("--sim --np 4 --delay 0..99999999999"),
        "at most",
    );
    assert_usage(
        "vector",
        &args("--sim --np 4 --crash 1@99999999999"),
        "at most",
    );
    assert_usage("vector", &args("--sim --np 100000"), "--np");
}

#[test]
fn ranks_that_do_not_exist() {
    assert_usage(
        "lamport",
        &args("--sim --np 4 --crash 4@10"),
        "rank 4 does not exist",
    );
    assert_usage(
        "vector",
        &args("--sim --np 3 --partition 0|7@1..2"),
        "rank 7",
    );
    assert_usage("vector", &args("--sim --np 0"), "at least 1");
}

#[test]
fn driver_flags_that_do_not_fit() {
    assert_usage("lamport", &["--sim"], "--sim needs --np");
    assert_usage("lamport", &args("--np 4"), "--np is for --sim");
}

#[test]
fn unwritable_output_file() {
    assert_usage(
        "lamport",
        &args("--sim --np 2 --report /nonexistent-dir/r.json"),
        "cannot write",
    );
}

#[test]
fn help_explains_every_option() {
    let r = direct("lamport", &["--help"]);
    assert_eq!(r.code, 0);
    for opt in args(
        "--sim --np --seed --seeds --timeout --report --trace --diagram --crash --drop --dup \
         --delay --partition --pattern --events --patience",
    ) {
        // Followed by a space: "--seed" must not pass on the strength of "--seeds".
        assert!(
            r.stdout.contains(&format!("{opt} ")),
            "--help lacks '{opt}'"
        );
    }
}

#[test]
fn scripts_reject_a_bad_hostfile_and_np() {
    let bad = scratch("bad-hostfile");
    std::fs::write(&bad, "localhost slots=two\n").unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(root().join("scripts/mpirun"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&args(&format!(
        "-np 2 --hostfile {} true",
        bad.to_str().unwrap()
    )));
    assert_eq!(code, 2);
    assert!(
        err.contains("line 1: slots must be a positive integer"),
        "{err}"
    );
    let (code, err) = run(&args("-np 2 --hostfile /nonexistent true"));
    assert_eq!(code, 2);
    assert!(err.contains("cannot read hostfile"), "{err}");
    let (code, err) = run(&args("-np zero true"));
    assert_eq!(code, 2);
    assert!(err.contains("positive integer"), "{err}");
}
