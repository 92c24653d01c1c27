//! Attribute names are strings in the op catalog's argument lists, and a getter given a name no
//! op has would silently read a default (0, false, an empty list). This test reads the sources
//! and checks that every attribute name they ask for, or build attributes with, is an argument
//! of some catalog op.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use std::collections::BTreeSet;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The string literal right after each occurrence of `prefix` in `text`.
fn names_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix).filter_map(|(i, _)| text[i + prefix.len()..].split('"').next()).collect()
}

#[test]
fn every_attribute_name_in_the_sources_is_a_catalog_argument() {
    let known: BTreeSet<&str> = nasc::ops::catalog().iter().flat_map(|s| s.args.iter().map(|a| a.name)).collect();
    let mut files = Vec::new();
    for dir in ["src", "crates/core/src", "tests"] {
        rust_files(Path::new(dir), &mut files);
    }
    let getters = [".dim(\"", ".int(\"", ".float(\"", ".bool(\"", ".str(\"", ".dims(\"", "attrs.get(\"", "a.get(\""];
    let mut unknown = Vec::new();
    let mut seen = 0;
    for f in &files {
        if f.ends_with("attr_names.rs") {
            continue;
        }
        let text = std::fs::read_to_string(f).expect("readable source");
        // Attribute lists are built as `("name", AttrValue::...)`.
        let built = text.match_indices("\", AttrValue::").filter_map(|(i, _)| text[..i].rsplit('"').next());
        let asked = getters.iter().flat_map(|g| names_after(&text, g));
        for name in built.chain(asked) {
            seen += 1;
            if !known.contains(name) {
                unknown.push(format!("{}: `{name}`", f.display()));
            }
        }
    }
    assert!(seen > 50, "the scan found only {seen} attribute names: has the code changed shape?");
    assert!(unknown.is_empty(), "attribute names no catalog op has: {unknown:#?}");
}
