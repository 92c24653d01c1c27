//! The `nasc` command line as a user meets it: exit codes, output formats, `fmt` in place.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use std::path::PathBuf;
use std::process::{Command, Output};

fn nasc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nasc")).args(args).output().expect("nasc runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasc-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let p = dir.join(name);
    std::fs::write(&p, contents).expect("write");
    p
}

#[test]
fn check_clean_file_exits_zero() {
    let out = nasc(&["check", "examples/resnet50.nas"]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("examples/resnet50.nas: ok"));
}

#[test]
fn check_bad_file_exits_one_and_renders() {
    let out = nasc(&["check", "tests/suite/residual_shape_mismatch.nas"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("[E0301]") && err.contains("shape mismatch in `+`"), "{err}");
    assert!(err.contains("[B, H/2, W/2, 2*C]") && err.contains("[B, H, W, C]"), "{err}");
    assert!(err.contains("1 error"), "{err}");
}

#[test]
fn check_json_is_machine_readable() {
    let out = nasc(&["check", "--format", "json", "tests/suite/unknown_name.nas", "examples/cnn2.nas"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let d = &v[0];
    assert_eq!(d["code"], "E0101");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["span"]["line"], 3);
    assert_eq!(d["span"]["col"], 23);
    assert_eq!(d["hints"][0], "did you mean `classes`?");
    assert_eq!(v.as_array().map(Vec::len), Some(1));
}

#[test]
fn build_report_json_has_totals_and_rows() {
    let out = nasc(&["build", "examples/resnet34_cifar.nas", "--report", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["params"], 21_282_122);
    assert_eq!(v["macs"], 1_159_402_496u64);
    assert_eq!(v["outputs"][0], "[B, 10]");
    assert_eq!(v["rows"][3]["name"], "BasicBlock");
}

#[test]
fn build_table_and_model_selection() {
    let two =
        temp_file("two.nas", "model A(x: [B, 8]) -> [B, 4] {\n    return x |> dense(4)\n}\n\nmodel Bee(x: [B, 8]) -> [B, 2] {\n    return x |> dense(2)\n}\n");
    let out = nasc(&["build", two.to_str().expect("utf8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("several models"), "{}", text(&out.stderr));
    let out = nasc(&["build", two.to_str().expect("utf8 path"), "--model", "Bee"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("total") && text(&out.stdout).contains("18"), "{}", text(&out.stdout));
    let out = nasc(&["build", two.to_str().expect("utf8 path"), "--model", "Be"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("did you mean `Bee`?"), "{}", text(&out.stderr));
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let out = nasc(&["check", "no/such/file.nas"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read `no/such/file.nas`"), "{}", text(&out.stderr));
}

/// Training numbers out of range are clap errors naming the flag, before any data is read.
#[test]
fn train_refuses_numbers_out_of_range() {
    for (flag, value, why) in [
        ("--lr", "-1", "must be above 0, found -1"),
        ("--warmup", "-5", "must be 0 or more, found -5"),
        ("--warmup", "nan", "nan is not a finite number"),
        ("--weight-decay", "-1", "must be 0 or more, found -1"),
        ("--batch", "0", "must be at least 1, found 0"),
        ("--epochs", "0", "must be at least 1, found 0"),
    ] {
        let out = nasc(&["train", "examples/mlp_digits.nas", "--data", "digits", &format!("{flag}={value}")]);
        assert_eq!(out.status.code(), Some(2), "{flag}={value}");
        let e = text(&out.stderr);
        assert!(e.contains(&format!("invalid value '{value}' for '{flag}")) && e.contains(why), "{flag}={value}: {e}");
    }
}

#[test]
fn fmt_rewrites_in_place_and_is_idempotent() {
    let p = temp_file("messy.nas", "model M(x:[B,8])->[B,8]{return x|>relu}\n");
    let path = p.to_str().expect("utf8 path");
    let out = nasc(&["fmt", "--check", path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(nasc(&["fmt", path]).status.success());
    let once = std::fs::read_to_string(&p).expect("read");
    assert_eq!(once, "model M(x: [B, 8]) -> [B, 8] {\n    return x |> relu\n}\n");
    assert!(nasc(&["fmt", "--check", path]).status.success());
}

/// `nasc fmt LINK` formats the link's target and leaves the link a link.
#[test]
fn fmt_through_a_symlink_formats_its_target() {
    let target = temp_file("target.nas", "model M(x:[B,8])->[B,8]{return x|>relu}\n");
    let link = target.with_file_name("link.nas");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    assert!(nasc(&["fmt", link.to_str().expect("utf8 path")]).status.success());
    assert!(std::fs::symlink_metadata(&link).expect("link").file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "model M(x: [B, 8]) -> [B, 8] {\n    return x |> relu\n}\n");
}

/// A UTF-8 byte-order mark before the program is not an error.
#[test]
fn a_byte_order_mark_is_accepted() {
    let p = temp_file("bom.nas", "\u{feff}model M(x: [B, 8]) -> [B, 8] {\n    return x |> relu\n}\n");
    let out = nasc(&["check", p.to_str().expect("utf8 path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn fmt_refuses_files_with_syntax_errors() {
    let p = temp_file("broken.nas", "model M(x: [B, 8]) -> [B, 8] { return x |> }\n");
    let out = nasc(&["fmt", p.to_str().expect("utf8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&p).expect("read"), "model M(x: [B, 8]) -> [B, 8] { return x |> }\n");
}

#[test]
fn help_explains_commands() {
    let out = nasc(&["--help"]);
    let help = text(&out.stdout);
    for cmd in ["check", "build", "fmt", "ops"] {
        assert!(help.contains(cmd), "{help}");
    }
    let out = nasc(&["ops"]);
    assert!(text(&out.stdout).contains("conv(x, features, kernel, stride: 1"));
}

#[test]
fn build_fills_holes_deterministically_and_the_result_checks() {
    for file in
        ["examples/holes/vit_mlp_hole.nas", "examples/holes/conv_down_hole.nas", "examples/holes/params_budget_hole.nas", "examples/holes/fuse_hole.nas"]
    {
        let a = nasc(&["build", file, "--emit", "nas", "--seed", "3"]);
        assert!(a.status.success(), "{file}: {}", text(&a.stderr));
        let b = nasc(&["build", file, "--emit", "nas", "--seed", "3"]);
        assert_eq!(a.stdout, b.stdout, "{file}: same seed, different program");
        let program = text(&a.stdout);
        assert!(!program.contains('?'), "{file}: a hole is left:\n{program}");
        let report = text(&a.stderr);
        assert!(report.contains("achieved: depth") || report.contains("achieved: from input 1: depth"), "{report}");
        // The filled program checks clean and is in canonical format.
        let module = nasc::compile(file, &program).unwrap_or_else(|d| panic!("{file}: {d:?}\n{program}"));
        assert!(module.warnings().is_empty());
        let (ast, _) = nasc::syntax::parse(Default::default(), &program);
        assert_eq!(nasc::syntax::print_file(&ast), program);
    }
}

#[test]
fn build_synth_modes_and_json() {
    let out = nasc(&["build", "examples/holes/vit_mlp_hole.nas", "--synth", "enumerative", "--emit", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let hole = &v["holes"][0];
    assert_eq!(hole["block"], "EncoderBlockHole");
    assert!(hole["depth"].as_u64().expect("depth") >= 4);
    assert_eq!(hole["ops"].as_array().map(Vec::len), Some(5), "enumeration finds a shortest fill: {hole}");
    assert!(v["report"]["params"].as_i64().is_some());
    assert!(v["program"].as_str().expect("text").contains("block EncoderBlockHole"));
    // A hole with several inputs reports its junction, branches and one path per input.
    let out = nasc(&["build", "examples/holes/fuse_hole.nas", "--emit", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let g = &v["holes"][0]["graph"];
    assert!(["add", "concat"].contains(&g["junction"].as_str().expect("junction")), "{g}");
    assert_eq!((g["branches"].as_array().map(Vec::len), g["paths"].as_array().map(Vec::len)), (Some(2), Some(2)), "{g}");
    assert!(g["paths"].as_array().expect("paths").iter().all(|p| p["depth"].as_u64() >= Some(2)), "{g}");
}

#[test]
fn infeasible_holes_are_diagnostics_naming_the_constraint() {
    let cases = [
        ("model M(x: [B, 8, 8, 3]) -> [B, 16, 16, 3] {\n    return ?<depth >= 1>(x)\n}\n", "no sequence of ops can grow a spatial dim from 8 to 16"),
        ("model M(x: [B, 8, 8, 16]) -> [B, 8, 8, 64] {\n    return ?<params <= 50>(x)\n}\n", "needs at least 64 parameters, but params <= 50"),
        ("model M(x: [B, 8, 8, 16]) -> [B, 8, 8, 64] {\n    return ?<ops in {relu, batch_norm}>(x)\n}\n", "has neither dense nor conv"),
        ("model M(x: [B, 10]) -> [B, 10] {\n    return ?<mixing >= [[o, a], [x, a]]>(x)\n}\n", "no op mixes different examples"),
        ("block H(x: [B, C]) -> [B, C * 2] {\n    return ?<params <= 100>(x)\n}\n", "needs concrete shapes"),
        // Several inputs: neither a sum nor a concat can make 8×8 from 4×4, nor split 2 channels 3 ways.
        ("model M(a: [B, 4, 4, 2], b: [B, 4, 4, 2], c: [B, 4, 4, 2]) -> [B, 8, 8, 2] {\n    return ?(a, b, c)\n}\n", "no junction joins the inputs"),
        ("model M(a: [B, 8], b: [B, 8]) -> [B, 8] {\n    return ?<params <= 100>(a, b)\n}\n", "not supported on holes with several inputs"),
        ("model M(a: [B, 8], b: [B, 4, 2]) -> [B, 8] {\n    return ?<mixing >= dense>(a, b)\n}\n", "synthesized ops keep the rank, but the input is rank 3"),
    ];
    for (k, (src, want)) in cases.iter().enumerate() {
        let p = temp_file(&format!("infeasible{k}.nas"), src);
        let out = nasc(&["build", p.to_str().expect("utf8"), "--emit", "nas"]);
        assert_eq!(out.status.code(), Some(1), "{src}");
        let err = text(&out.stderr);
        assert!(err.contains("E0405") && err.contains(want), "{src}\n{err}");
    }
    // Each input of a hole must be able to state its constraints.
    let p = temp_file("bad_matrix.nas", "model M(a: [B, 8], b: [B, 4, 2]) -> [B, 8] {\n    return ?<mixing >= [[o, x], [x, a]]>(a, b)\n}\n");
    let err = text(&nasc(&["build", p.to_str().expect("utf8")]).stderr);
    assert!(err.contains("E0403") && err.contains("must be 3×3 for a rank-3 input [B, 4, 2]"), "{err}");
}

#[test]
fn props_shows_mixing_depth_and_holes() {
    let out = nasc(&["props", "stdlib/resnet.nas", "--block", "BasicBlock"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(s.contains("depth 3") && s.contains("in\\out"), "{s}");
    let out = nasc(&["props", "examples/holes/conv_down_hole.nas", "--block", "DownHole", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["holes"][0]["output"], "[B, H/2, W/2, 2*C]");
}

#[test]
fn devices_lists_cpu_and_why_cuda_is_not_usable() {
    let out = nasc(&["devices"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(s.lines().any(|l| l.starts_with("cpu") && l.contains("usable")), "{s}");
    let cuda = s.lines().find(|l| l.starts_with("cuda")).expect("a cuda line");
    // This machine and CI have no NVIDIA driver; a CPU-only build says so too.
    assert!(cuda.contains("not usable") && (cuda.contains("libcuda.so.1 not found") || cuda.contains("built without CUDA")), "{cuda}");
    let json = nasc(&["devices", "--json"]);
    let first: serde_json::Value = serde_json::from_str(text(&json.stdout).lines().next().unwrap()).expect("JSON");
    assert_eq!(first["name"], "cpu");
    assert_eq!(first["usable"], true);
}

#[test]
fn cuda_without_a_gpu_is_a_clear_error() {
    for args in [
        &["train", "examples/cnn_digits.nas", "--data", "digits", "--epochs", "1", "--device", "cuda"][..],
        &["bench", "benches/models/mlp_digits.nas", "--device", "cuda"][..],
    ] {
        let out = nasc(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        let clear = err.contains("built without CUDA: build it with `cargo build --release --features cuda`")
            || err.contains("cannot use CUDA here: NVIDIA driver library libcuda.so.1 not found: install the NVIDIA driver");
        assert!(clear && !err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn explain_prints_a_code_and_refuses_an_unknown_one() {
    let out = nasc(&["explain", "e0302"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(s.starts_with("E0302: inexact division (error)\n\n"), "{s}");
    assert!(s.contains("a stride must divide the height and width"), "{s}");
    let out = nasc(&["explain", "E9999"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "error: `E9999` is not a nasc diagnostic code; `nasc explain` lists them\n");
    let list = text(&nasc(&["explain"]).stdout);
    assert_eq!(list.lines().count(), nasc::diag::Code::ALL.len());
    assert!(list.contains("W0101  unused binding\n"), "{list}");
}
