//! The layer table at the top of `src/lib.rs` holds: every `crate::…` path in `src/` points
//! to a module of the same row or a lower one, and no two top-level modules use each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The table: top-level module → its row (0 is the bottom).
fn layers(lib: &str) -> BTreeMap<String, usize> {
    let rows: Vec<Vec<String>> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//! |"))
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>())
        .filter(|cells| cells.len() >= 2 && !cells[0].starts_with('-') && cells[0] != "layer")
        .map(|cells| cells[1].split(',').map(|m| m.trim().to_string()).collect())
        .collect();
    let n = rows.len();
    let mut rank = BTreeMap::new();
    for (i, row) in rows.into_iter().enumerate() {
        for m in row {
            assert!(
                rank.insert(m.clone(), n - 1 - i).is_none(),
                "{m} is in two rows"
            );
        }
    }
    rank
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src/ is readable") {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::NAME` a file's code names (comments aside), with its line.
fn uses(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((n + 1, name));
            }
            rest = after;
        }
    }
    out
}

/// Each import that points up the table, as `file:line: a (row) uses b (row)`.
fn violations(src: &Path) -> (Vec<String>, BTreeMap<String, BTreeSet<String>>) {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let rank = layers(&lib);
    assert!(rank.len() >= 10, "the layer table in src/lib.rs is missing");
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    let mut problems = Vec::new();
    for m in &declared {
        if !rank.contains_key(m) {
            problems.push(format!(
                "src/lib.rs: module {m} is in no row of the layer table"
            ));
        }
    }
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    assert!(files.len() > 50, "found only {} files in src/", files.len());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).expect("under src/");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
            .expect("a file name");
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("a source file");
        for (line, used) in uses(&text) {
            if used == top {
                continue;
            }
            let (Some(a), Some(b)) = (rank.get(&top), rank.get(&used)) else {
                problems.push(format!(
                    "src/{}:{line}: {top} uses {used}, which is in no row",
                    rel.display()
                ));
                continue;
            };
            graph.entry(top.clone()).or_default().insert(used.clone());
            if b > a {
                problems.push(format!(
                    "src/{}:{line}: {top} (row {a}) uses {used} (row {b}), a layer above it",
                    rel.display()
                ));
            }
        }
    }
    for (a, uses) in &graph {
        for b in uses {
            if a < b && graph.get(b).is_some_and(|u| u.contains(a)) {
                problems.push(format!("{a} and {b} use each other"));
            }
        }
    }
    (problems, graph)
}

#[test]
fn every_import_in_src_points_down_the_layer_table() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (problems, graph) = violations(&src);
    assert!(
        graph.values().map(BTreeSet::len).sum::<usize>() > 30,
        "the scan found almost no imports: {graph:?}"
    );
    assert!(
        problems.is_empty(),
        "imports against the layers:\n{}",
        problems.join("\n")
    );
}

#[test]
fn an_upward_import_is_caught() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    std::fs::write(
        dir.path().join("lib.rs"),
        std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs"),
    )
    .expect("write lib.rs");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src/");
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
        let mut text = std::fs::read_to_string(&f).expect("read");
        if rel == Path::new("store/mod.rs") {
            text.push_str("\n#[allow(unused_imports)]\nuse crate::daemon::Daemon;\n");
        }
        std::fs::write(to, text).expect("write");
    }
    let (problems, _) = violations(dir.path());
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("src/store/mod.rs:") && p.contains("uses daemon")),
        "{problems:?}"
    );
}
