//! The language suite: every file in tests/suite/ is a program with mistakes. Its first lines say
//! what nasc must report, as `// expect: CODE LINE:COL MESSAGE` (or `// expect: nothing`).
//! The rendered diagnostics of the whole suite are also an insta snapshot (snapshots/).

use nasc::check::check;
use nasc::program::Program;
use std::path::{Path, PathBuf};

fn suite_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/suite")
        .expect("tests/suite exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "nas"))
        .collect();
    files.sort();
    files
}

fn expectations(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("readable suite file");
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| l.strip_prefix("// expect: "))
        .filter(|l| !l.starts_with("nothing"))
        .map(str::to_string)
        .collect()
}

fn run_in_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(64 << 20).spawn(f).expect("spawn").join().expect("no panic")
}

#[test]
fn every_suite_file_reports_exactly_its_expected_diagnostics() {
    let files = suite_files();
    assert!(files.len() >= 30, "the suite needs at least 30 programs, has {}", files.len());
    let mut failures = Vec::new();
    for path in files {
        let want = expectations(&path);
        let p = path.clone();
        let got: Vec<String> = run_in_big_stack(move || {
            let prog = Program::load(&p);
            let checked = check(&prog);
            checked
                .diagnostics
                .iter()
                .map(|d| {
                    let (line, col) = prog.sources.line_col(d.primary.span.file, d.primary.span.start);
                    format!("{} {line}:{col} {}", d.code, d.message)
                })
                .collect()
        });
        if got != want {
            failures.push(format!("{}:\n  expected {want:#?}\n  got      {got:#?}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rendered_diagnostics_snapshot() {
    let mut all = String::new();
    for path in suite_files() {
        let prog = Program::load(&path);
        let checked = run_in_big_stack(move || (check(&prog), prog));
        all.push_str(&format!("==== {}\n", path.file_name().and_then(|n| n.to_str()).unwrap_or("?")));
        for d in &checked.0.diagnostics {
            all.push_str(&d.render(&checked.1.sources, false));
        }
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("suite_diagnostics", all));
}
