//! The language suite: every file in tests/suite/ is a program with mistakes. Its first lines say
//! what nasc must report, as `// expect: CODE LINE:COL MESSAGE` (or `// expect: nothing`); a
//! `// run: build` line also selects the model and fills the holes, as `nasc build` does.
//! The rendered diagnostics of each suite file are an insta snapshot (snapshots/suite/).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use nasc::check::{check, select_model};
use nasc::diag::{Code, Diagnostic};
use nasc::program::Program;
use std::path::{Path, PathBuf};

fn suite_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/suite")
        .expect("tests/suite exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "nas"))
        .collect();
    files.sort();
    files
}

fn directives(path: &Path, prefix: &str) -> Vec<String> {
    let bytes = std::fs::read(path).expect("readable suite file");
    String::from_utf8_lossy(&bytes).lines().filter_map(|l| l.strip_prefix(prefix)).map(str::to_string).collect()
}

fn expectations(path: &Path) -> Vec<String> {
    directives(path, "// expect: ").into_iter().filter(|l| !l.starts_with("nothing")).collect()
}

fn run_in_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(64 << 20).spawn(f).expect("spawn").join().expect("no panic")
}

/// The program of a suite file and what nasc reports on it: the checker's diagnostics, and for
/// `// run: build` files without errors, model selection's and synthesis's.
fn diagnose(path: &Path) -> (Program, Vec<Diagnostic>) {
    let build = directives(path, "// run: ").iter().any(|r| r.trim() == "build");
    let p = path.to_path_buf();
    run_in_big_stack(move || {
        let prog = Program::load(&p);
        let checked = check(&prog);
        let mut diags = checked.diagnostics.clone();
        if build && !checked.has_errors() {
            match select_model(&prog, None) {
                Err(d) => diags.push(d),
                Ok(_) => diags.extend(nasc::synth::fill::fill_holes(&prog, &checked, &Default::default()).err().unwrap_or_default()),
            }
        }
        (prog, diags)
    })
}

#[test]
fn every_suite_file_reports_exactly_its_expected_diagnostics() {
    let files = suite_files();
    assert!(files.len() >= 30, "the suite needs at least 30 programs, has {}", files.len());
    let mut failures = Vec::new();
    for path in files {
        let want = expectations(&path);
        let (prog, diags) = diagnose(&path);
        let got: Vec<String> = diags
            .iter()
            .map(|d| {
                let (line, col) = prog.sources.line_col(d.primary.span.file, d.primary.span.start);
                format!("{} {line}:{col} {}", d.code, d.message)
            })
            .collect();
        if got != want {
            failures.push(format!("{}:\n  expected {want:#?}\n  got      {got:#?}", path.display()));
        }
        for d in &diags {
            assert_eq!(d.severity, d.code.severity(), "{}: {} is reported with the wrong severity", path.display(), d.code);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Codes no suite file can show, each with the test that checks its message instead.
const NOT_IN_SUITE: &[(Code, &str)] = &[
    (Code::Internal, "a bug in nasc by definition: no input is meant to produce it"),
    (Code::CannotRead, "needs a FIFO or an unreadable file: tests/hostile.rs"),
    (Code::MoreNotShown, "needs more than 10,000 diagnostics: tests/hostile.rs and check::tests"),
];

#[test]
fn every_code_has_a_suite_file() {
    let mut shown: Vec<String> = suite_files().iter().flat_map(|p| expectations(p)).filter_map(|e| e.split(' ').next().map(str::to_string)).collect();
    shown.sort();
    shown.dedup();
    for code in Code::ALL {
        let exempt = NOT_IN_SUITE.iter().any(|(c, _)| c == code);
        let in_suite = shown.iter().any(|s| code == &s.as_str());
        assert!(
            in_suite != exempt,
            "{code} ({}): {}",
            code.title(),
            if exempt { "has a suite file now; drop it from NOT_IN_SUITE" } else { "add a file to tests/suite/ that shows it" }
        );
    }
}

#[test]
fn rendered_diagnostics_snapshots() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots/suite");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for path in suite_files() {
            let (prog, diags) = diagnose(&path);
            let rendered: String = diags.iter().map(|d| d.render(&prog.sources, false)).collect();
            let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or("?").to_string();
            insta::assert_snapshot!(name, rendered);
        }
    });
}
