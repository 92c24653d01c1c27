//! parse ∘ print is the identity on ASTs, and printing is idempotent: over the examples and
//! over 2,000 generated programs that use every construct of the grammar.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use nasc::syntax::generate::{Rng, large_program, random_file};
use nasc::syntax::{parse, print_file};

#[test]
fn generated_programs_round_trip() {
    for seed in 0..2000u64 {
        let mut rng = Rng::new(seed);
        let ast = random_file(&mut rng);
        let text = print_file(&ast);
        let (back, diags) = parse(Default::default(), &text);
        let msgs: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert!(diags.is_empty(), "seed {seed}: printed text does not parse: {msgs:?}\n{text}");
        assert_eq!(back, ast, "seed {seed}: round trip changed the program\n{text}");
        assert_eq!(print_file(&back), text, "seed {seed}: printing is not idempotent");
    }
}

#[test]
fn formatting_normalises_layout_and_keeps_comments() {
    let messy = "// header\n\nuse std.resnet\nmodel   M( x:[B,8] )->[B,8]{\n  // lead\n  let y=x|>relu // tail\n\n\n  return y|>gelu}\n// end\n";
    let (ast, diags) = parse(Default::default(), messy);
    assert!(diags.is_empty());
    let want =
        "// header\n\nuse std.resnet\n\nmodel M(x: [B, 8]) -> [B, 8] {\n    // lead\n    let y = x |> relu  // tail\n\n    return y |> gelu\n}\n\n// end\n";
    assert_eq!(print_file(&ast), want);
    let (again, _) = parse(Default::default(), want);
    assert_eq!(print_file(&again), want);
}

#[test]
fn long_pipes_break_before_each_stage() {
    let src = "model M(x: [B, 8]) -> [B, 8] {\n    return x |> dense(512) |> relu |> dense(512) |> relu |> dense(512) |> relu |> dense(8) |> layer_norm\n}\n";
    let (ast, _) = parse(Default::default(), src);
    let out = print_file(&ast);
    assert!(out.contains("    return x\n        |> dense(512)\n        |> relu\n"), "{out}");
    assert_eq!(parse(Default::default(), &out).0, ast);
}

#[test]
fn generated_large_program_round_trips_and_checks() {
    let text = large_program(5000);
    assert!(text.lines().count() >= 5000);
    let (ast, diags) = parse(Default::default(), &text);
    assert!(diags.is_empty());
    assert_eq!(print_file(&ast), text);
    let module = nasc::compile("big.nas", &text).expect("checks clean");
    assert!(module.report(None).expect("model").params.as_int().is_some());
}
