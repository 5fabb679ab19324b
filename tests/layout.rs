//! The source tree's layout rules, checked: no import circle between files or between the
//! rooms of `src/shared/`, nothing outside `src/shared/mpi/` touches the `mpi` crate or
//! `unsafe`, and an algorithm imports another only where [`ALGORITHM_IMPORTS`] says so (what
//! several algorithms share belongs in `src/shared/`; a new edge here is a decision).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Module path of a file under `src/`: `src/shared/mpi/world.rs` → `["shared","mpi","world"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into()).collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

/// The code of a file without comments (line comments and doc comments).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(|l| match l.find("//") {
        Some(i) => &l[..i],
        None => l,
    })
}

/// Every path `crate::a::b::…` or `super::a::…` in `code`, resolved against `module`.
fn paths_used(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    // `super` is the parent of the module (of a folder's mod.rs too: its module is the folder).
    let parent = module[..module.len().saturating_sub(1)].to_vec();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut from = 0;
        while let Some(i) = code[from..].find(prefix) {
            let start = from + i;
            from = start + prefix.len();
            let b = if start > 0 { bytes[start - 1] } else { b' ' };
            if b.is_ascii_alphanumeric() || b == b'_' || b == b':' {
                continue;
            }
            let rest = &code[from..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let mut path = base.clone();
            path.extend(
                rest[..end]
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
            out.push(path);
        }
    }
    out
}

/// The algorithm-to-algorithm imports allowed, (importer, imported), each with its reason.
const ALGORITHM_IMPORTS: &[(&str, &str, &str)] = &[
    (
        "leader_election",
        "failure_detector",
        "omega is the lowest unsuspected rank of the failure detector, run unchanged",
    ),
    (
        "hashmap",
        "raft",
        "the Raft backend runs raft's servers unchanged",
    ),
];

/// The layout's violations in the tree under `src`, one line each.
fn violations(src: &Path) -> Vec<String> {
    violations_with(src, ALGORITHM_IMPORTS)
}

fn violations_with(src: &Path, allowed: &[(&str, &str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    // Resolve a path to the longest module prefix that is a file.
    let resolve = |p: &[String]| -> Option<Vec<String>> {
        (1..=p.len())
            .rev()
            .map(|n| p[..n].to_vec())
            .find(|m| modules.contains_key(m))
    };

    let mut edges: BTreeMap<Vec<String>, Vec<Vec<String>>> = BTreeMap::new();
    let mut offenders = Vec::new();
    let mut algo_edges = Vec::new();
    for f in &files {
        let text = fs::read_to_string(f).unwrap();
        let code: String = code_lines(&text).collect::<Vec<_>>().join("\n");
        let module = module_of(src, f);
        let is_mod_rs = f
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        let in_mpi_room = module.starts_with(&["shared".into(), "mpi".into()]);
        if !in_mpi_room {
            for (word, what) in [("unsafe", "unsafe"), ("mpi::", "the mpi crate")] {
                let hit = code.match_indices(word).any(|(i, _)| {
                    let before = code[..i].chars().next_back();
                    !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                });
                if hit {
                    offenders.push(format!("{} uses {what}", f.display()));
                }
            }
        }
        // Algorithm to algorithm, mod.rs included (it holds code, not only an index).
        if module.first().is_some_and(|s| s == "algos") && module.len() > 1 {
            for p in paths_used(&module, &code) {
                if p.first().is_some_and(|s| s == "algos") && p.len() > 1 && p[1] != module[1] {
                    let pair = (module[1].as_str(), p[1].as_str());
                    let edge = format!("{} imports algos::{}", f.display(), p[1]);
                    if !allowed.iter().any(|a| (a.0, a.1) == pair) && !algo_edges.contains(&edge) {
                        algo_edges.push(edge);
                    }
                }
            }
        }
        if is_mod_rs {
            continue; // an index re-exports its children; it is not a dependency edge
        }
        let deps = edges.entry(module.clone()).or_default();
        for p in paths_used(&module, &code) {
            if let Some(target) = resolve(&p) {
                if target != module && !deps.contains(&target) {
                    deps.push(target);
                }
            }
        }
    }
    found.extend(
        offenders
            .into_iter()
            .map(|o| format!("outside src/shared/mpi/: {o}")),
    );
    found.extend(
        algo_edges
            .into_iter()
            .map(|e| format!("not in the allowed algorithm imports: {e}")),
    );

    // Files: depth-first search for a back edge.
    fn cycle(edges: &BTreeMap<Vec<String>, Vec<Vec<String>>>) -> Option<Vec<Vec<String>>> {
        fn visit(
            n: &Vec<String>,
            edges: &BTreeMap<Vec<String>, Vec<Vec<String>>>,
            state: &mut BTreeMap<Vec<String>, u8>,
            stack: &mut Vec<Vec<String>>,
        ) -> Option<Vec<Vec<String>>> {
            match state.get(n) {
                Some(2) => return None,
                Some(1) => {
                    let i = stack.iter().position(|m| m == n).unwrap();
                    let mut c = stack[i..].to_vec();
                    c.push(n.clone());
                    return Some(c);
                }
                _ => {}
            }
            state.insert(n.clone(), 1);
            stack.push(n.clone());
            for m in edges.get(n).into_iter().flatten() {
                if let Some(c) = visit(m, edges, state, stack) {
                    return Some(c);
                }
            }
            stack.pop();
            state.insert(n.clone(), 2);
            None
        }
        let mut state = BTreeMap::new();
        edges
            .keys()
            .find_map(|n| visit(n, edges, &mut state, &mut Vec::new()))
    }
    let show = |c: Vec<Vec<String>>| {
        c.iter()
            .map(|m| m.join("::"))
            .collect::<Vec<_>>()
            .join(" -> ")
    };
    if let Some(c) = cycle(&edges) {
        found.push(format!("import circle between files: {}", show(c)));
    }
    // Rooms: the first level under shared/ (shared::observe::report → shared::observe).
    let mut rooms: BTreeMap<Vec<String>, Vec<Vec<String>>> = BTreeMap::new();
    let room = |m: &Vec<String>| m.iter().take(2).cloned().collect::<Vec<_>>();
    for (from, tos) in &edges {
        if from.first().is_some_and(|s| s == "shared") {
            let r = rooms.entry(room(from)).or_default();
            for t in tos
                .iter()
                .filter(|t| t.first().is_some_and(|s| s == "shared"))
            {
                if room(t) != room(from) && !r.contains(&room(t)) {
                    r.push(room(t));
                }
            }
        }
    }
    if let Some(c) = cycle(&rooms) {
        found.push(format!(
            "import circle between rooms of src/shared: {}",
            show(c)
        ));
    }
    found
}

#[test]
fn no_import_circles_and_mpi_stays_in_its_room() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() > 20,
        "the scan found too few files: {}",
        files.len()
    );
    let v = violations(&src);
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn the_check_sees_circles_and_mpi_outside_its_room() {
    let dir = std::env::temp_dir().join(format!("mpidist-layout-{}", std::process::id()));
    let write = |p: &str, s: &str| {
        let f = dir.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, s).unwrap();
    };
    write("lib.rs", "pub mod shared;");
    write("shared/mod.rs", "pub mod a; pub mod b; pub mod obs;");
    write(
        "shared/a.rs",
        "use super::b::Thing; // a comment naming unsafe is fine",
    );
    write(
        "shared/b.rs",
        "use crate::shared::a::Other;\nfn f() { unsafe { } }",
    );
    write("shared/obs/mod.rs", "pub mod x;");
    write(
        "shared/obs/x.rs",
        "use mpi::traits::*;\nuse crate::shared::mpi::World;",
    );
    let v = violations(&dir);
    fs::remove_dir_all(&dir).unwrap();
    let all = v.join("\n");
    assert!(
        all.contains("import circle between files: shared::a -> shared::b -> shared::a"),
        "{all}"
    );
    assert!(all.contains("b.rs uses unsafe"), "{all}");
    assert!(all.contains("x.rs uses the mpi crate"), "{all}");
    assert!(!all.contains("a.rs uses"), "{all}");
    assert_eq!(v.len(), 4, "{all}"); // the room circle shared::a <-> shared::b too
}

#[test]
fn an_algorithm_importing_another_needs_a_reason() {
    let dir = std::env::temp_dir().join(format!("mpidist-layout-algos-{}", std::process::id()));
    let write = |p: &str, s: &str| {
        let f = dir.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, s).unwrap();
    };
    write("lib.rs", "pub mod algos;");
    write("algos/mod.rs", "pub mod a; pub mod b; pub mod c;");
    write("algos/a.rs", "use super::b::Ballot;");
    write("algos/b.rs", "pub struct Ballot;");
    write(
        "algos/c/mod.rs",
        "use crate::algos::b::Ballot; use self::x::Y; mod x;",
    );
    write("algos/c/x.rs", "use crate::algos::c::Z; pub struct Y;");
    let allowed = [("a", "b", "a reason")];
    let v = violations_with(&dir, &allowed);
    fs::remove_dir_all(&dir).unwrap();
    let all = v.join("\n");
    assert!(all.contains("c/mod.rs imports algos::b"), "{all}");
    assert!(!all.contains("a.rs imports"), "allowed: {all}");
    assert!(!all.contains("x.rs imports"), "its own algorithm: {all}");
    assert_eq!(v.len(), 1, "{all}");
}
