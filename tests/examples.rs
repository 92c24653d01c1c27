//! The bundled examples and stdlib: they check clean, `nasc fmt` leaves them unchanged, and
//! their params and MACs equal the reference implementations'.
//!
//! The reference figures are in tests/reference/reference_counts.json, produced by
//! `python3 tests/reference/reference_counts.py` from torchvision 0.29 / timm 1.0 / torch 2.15
//! (see that script for how MACs are counted: Conv2d and Linear multiply-accumulates at batch 1).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use nasc::program::Program;
use nasc::syntax::{parse, print_file};
use std::path::Path;

fn nas_files(dir: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> =
        std::fs::read_dir(dir).expect("dir exists").map(|e| e.expect("entry").path()).filter(|p| p.extension().is_some_and(|e| e == "nas")).collect();
    v.sort();
    v
}

#[test]
fn examples_and_stdlib_check_clean_without_warnings() {
    for path in nas_files("examples").into_iter().chain(nas_files("examples/holes")).chain(nas_files("stdlib")) {
        let checked = nasc::check::check(&Program::load(&path));
        let msgs: Vec<String> = checked.diagnostics.iter().map(|d| d.message.clone()).collect();
        assert!(msgs.is_empty(), "{}: {msgs:?}", path.display());
    }
}

#[test]
fn fmt_leaves_examples_and_stdlib_unchanged() {
    for path in nas_files("examples").into_iter().chain(nas_files("examples/holes")).chain(nas_files("stdlib")) {
        let text = std::fs::read_to_string(&path).expect("readable");
        let (ast, diags) = parse(Default::default(), &text);
        assert!(diags.is_empty(), "{}", path.display());
        assert_eq!(print_file(&ast), text, "{} is not in canonical format", path.display());
    }
}

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string("tests/reference/reference_counts.json").expect("reference file");
    serde_json::from_str(&text).expect("valid json")
}

fn counts(file: &str) -> (i64, i64) {
    let module = nasc::compile_file(Path::new(file)).unwrap_or_else(|d| panic!("{file}: {d:?}"));
    let r = module.report(None).expect("one model");
    (r.params.as_int().expect("concrete params"), r.macs.as_int().expect("concrete MACs"))
}

#[test]
fn resnet34_cifar_matches_the_issue_and_pytorch() {
    let (params, macs) = counts("examples/resnet34_cifar.nas");
    assert_eq!((params, macs), (21_282_122, 1_159_402_496));
    let r = reference();
    assert_eq!(params, r["resnet34_cifar"]["params"]);
    assert_eq!(macs, r["resnet34_cifar"]["conv_linear_macs"]);
}

#[test]
fn resnet50_matches_torchvision() {
    let (params, macs) = counts("examples/resnet50.nas");
    assert_eq!((params, macs), (25_557_032, 4_089_184_256));
    let r = reference();
    assert_eq!(params, r["resnet50"]["params"]);
    assert_eq!(macs, r["resnet50"]["conv_linear_macs"]);
}

#[test]
fn efficientnet_b0_matches_torchvision() {
    let (params, macs) = counts("examples/efficientnet_b0.nas");
    let r = reference();
    assert_eq!(params, r["efficientnet_b0"]["params"]);
    assert_eq!(params, 5_288_548);
    assert_eq!(macs, r["efficientnet_b0"]["conv_linear_macs"]);
}

/// The models added with the constructs real architectures need (relu6, depthwise convs,
/// layer scale, stochastic depth, torchvision's explicit padding, growing concatenations).
#[test]
fn mobilenet_v2_convnext_tiny_and_densenet121_match_torchvision() {
    let r = reference();
    for (file, key, params) in [
        ("examples/mobilenet_v2.nas", "mobilenet_v2", 3_504_872),
        ("examples/convnext_tiny.nas", "convnext_tiny", 28_589_128),
        ("examples/densenet121.nas", "densenet121", 7_978_856),
    ] {
        let (p, macs) = counts(file);
        assert_eq!(p, params, "{file}");
        assert_eq!(p, r[key]["params"], "{file}");
        assert_eq!(macs, r[key]["conv_linear_macs"], "{file}");
    }
}

/// Rectangular windows: InceptionC's factorised 7×7 convs (1×7 then 7×1, explicit padding).
#[test]
fn inception_small_matches_torchvision_blocks() {
    let (params, macs) = counts("examples/inception_small.nas");
    let r = reference();
    assert_eq!((params, macs), (314_026, 68_400_480));
    assert_eq!(params, r["inception_small"]["params"]);
    assert_eq!(macs, r["inception_small"]["conv_linear_macs"]);
}

#[test]
fn vit_s16_matches_timm() {
    let (params, macs) = counts("examples/vit_s16.nas");
    let r = reference();
    assert_eq!(params, r["vit_s16"]["params"]);
    assert_eq!(params, 22_050_664);
    // timm's attention matmuls are not module calls, so its hook count leaves them out:
    // 12 blocks × 2 matmuls × 197·197·384 MACs.
    let attention = 12 * 2 * 197 * 197 * 384;
    assert_eq!(macs, r["vit_s16"]["conv_linear_macs"].as_i64().expect("int") + attention);
}

#[test]
fn small_models() {
    assert_eq!(counts("examples/mlp_digits.nas").0, 9_610);
    // cnn_digits: two conv-bn blocks (1→32, 32→64), dense 4·4·64→10.
    assert_eq!(counts("examples/cnn_digits.nas").0, 9 * 32 + 64 + 9 * 32 * 64 + 128 + 4 * 4 * 64 * 10 + 10);
    // cnn2: 1×1 conv 3→32, 3×3 convs 32→64→128, dense 8·8·128→256→10.
    let cnn2 = (3 * 32 + 32) + (9 * 32 * 64 + 64) + (9 * 64 * 128 + 128) + (8192 * 256 + 256) + (256 * 10 + 10);
    assert_eq!(counts("examples/cnn2.nas").0, cnn2);
    // resnet_fashion (the Fashion-MNIST search seed, at most 200k): stem 3×3 1→16 + BN, basic
    // blocks at 16, 32 (from 16, 1×1 shortcut), 32, 64 (from 32), 64 — bias-free convs, BN 2C
    // each — and dense 64→10.
    let conv_bn = |k: i64, cin: i64, cout: i64| k * k * cin * cout + 2 * cout;
    let block = |c: i64| 2 * conv_bn(3, c, c);
    let down = |cin: i64, cout: i64| conv_bn(3, cin, cout) + conv_bn(3, cout, cout) + conv_bn(1, cin, cout);
    let fashion = conv_bn(3, 1, 16) + block(16) + down(16, 32) + block(32) + down(32, 64) + block(64) + 64 * 10 + 10;
    assert_eq!(counts("examples/resnet_fashion.nas").0, fashion);
    assert!(fashion <= 200_000);
}

#[test]
fn resnet34_report_snapshot() {
    let module = nasc::compile_file(Path::new("examples/resnet34_cifar.nas")).expect("checks");
    let table = module.report(None).expect("model").table();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("resnet34_cifar_report", table));
}
