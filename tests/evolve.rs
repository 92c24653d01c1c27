//! `nasc evolve` end to end: kill-and-resume, --jobs independence, stored candidates, outputs
//! and errors. The seed is the digits MLP with one epoch per candidate, so runs take seconds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use nasc::rng::Rng;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const TRIALS: &str = "20";

fn nasc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nasc"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nasc-evolve-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn start_args(store: &Path, jobs: &str) -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    [
        &format!("{root}/examples/mlp_digits.nas"),
        "--data",
        "digits",
        "--trials",
        TRIALS,
        "--epochs",
        "2",
        "--rungs",
        "1",
        "--stop-margin",
        "0",
        "--guidance",
        "both",
        "--guidance-after",
        "6",
        "--train-subset",
        "1100",
        "--final-epochs",
        "2",
        "--inherit",
        "--window",
        "2",
        "--seed",
        "7",
        "--jobs",
        jobs,
        "--quiet",
        "--store",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([store.display().to_string()])
    .collect()
}

fn run(args: &[String]) -> Output {
    nasc().arg("evolve").args(args).output().unwrap()
}

/// The store as JSON without the fields that measure time.
fn export(store: &Path) -> Value {
    let out = nasc().args(["evolve", "--export", "json", "--store"]).arg(store).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for c in v["candidates"].as_array_mut().unwrap() {
        for k in ["throughput", "train_seconds", "controller_ms", "created_at", "finished_at", "started_at", "latency_ms", "eval_seconds"] {
            c.as_object_mut().unwrap().remove(k);
        }
    }
    for f in v["finals"].as_array_mut().unwrap() {
        for k in ["train_seconds", "finished_at"] {
            f.as_object_mut().unwrap().remove(k);
        }
    }
    v
}

fn complete_run(dir: &Path, jobs: &str) -> PathBuf {
    let store = dir.join(format!("jobs{jobs}.sqlite"));
    let out = run(&start_args(&store, jobs));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    store
}

/// Every stopped candidate was beaten after epoch 1 by a candidate at least --window (2) ids
/// older and no larger in params and MACs; every candidate that trained on was not.
fn assert_stops_are_justified(cands: &[Value]) {
    let at_epoch_1 = |c: &Value| -> Option<f64> {
        let curve: Vec<Value> = serde_json::from_str(c["curve"].as_str()?).ok()?;
        curve.first()?["val_accuracy"].as_f64()
    };
    let evaluated = |c: &&Value| ["done", "stopped", "reused"].contains(&c["status"].as_str().unwrap());
    let stopped: Vec<&Value> = cands.iter().filter(|c| c["status"] == "stopped").collect();
    assert!(!stopped.is_empty(), "no candidate was stopped early");
    for c in cands.iter().filter(|c| c["status"] == "stopped" || c["status"] == "done") {
        let id = c["id"].as_i64().unwrap();
        let own = at_epoch_1(c).unwrap();
        let beaten = cands[..(id - 1).max(1) as usize].iter().filter(evaluated).any(|q| {
            q["id"] != c["id"]
                && q["params"].as_i64() <= c["params"].as_i64()
                && q["macs"].as_i64() <= c["macs"].as_i64()
                && at_epoch_1(q).is_some_and(|a| a > own)
        });
        assert_eq!(beaten, c["status"] == "stopped", "candidate #{id}: {c}");
        if c["status"] == "stopped" {
            assert_eq!((c["stopped_at"].as_i64(), serde_json::from_str::<Vec<Value>>(c["curve"].as_str().unwrap()).unwrap().len()), (Some(1), 1));
        }
    }
}

/// Guidance predicted every candidate created once 6 had trained (among those at least
/// --window older); each candidate it skipped names a rival at least --window (2) ids older, no
/// larger, whose accuracy after epoch 1 is above the skipped one's predicted upper bound.
fn assert_skips_are_justified(cands: &[Value]) {
    let at_epoch_1 = |c: &Value| -> Option<f64> { serde_json::from_str::<Vec<Value>>(c["curve"].as_str()?).ok()?.first()?["val_accuracy"].as_f64() };
    let props = |c: &Value| -> Value { serde_json::from_str(c["properties"].as_str().unwrap()).unwrap() };
    let mut predicted = 0;
    for c in cands {
        let id = c["id"].as_i64().unwrap() as usize;
        let trained_before = cands[..(id + 1).saturating_sub(2).max(1)].iter().filter(|q| ["done", "stopped"].contains(&q["status"].as_str().unwrap())).count();
        let p = props(c);
        let pending_then =
            ["done", "stopped", "failed"].contains(&c["status"].as_str().unwrap()) || c["error"].as_str().is_some_and(|e| e.starts_with("predicted"));
        if trained_before >= 6 && pending_then {
            assert!(p["prediction"]["accuracy"].is_f64(), "candidate #{id} has no prediction: {p}");
            predicted += 1;
        }
        if let Some(rival) = p["prediction"]["skipped_for"].as_i64() {
            assert_eq!(c["status"], "skipped", "#{id}");
            assert!(c["error"].as_str().unwrap().starts_with("predicted dominated (--guidance both)"), "#{id}: {c}");
            assert!(rival as usize + 2 <= id, "#{id} skipped for #{rival}, not --window older");
            let q = &cands[rival as usize];
            assert!(q["params"].as_i64() <= c["params"].as_i64() && q["macs"].as_i64() <= c["macs"].as_i64(), "#{id}: rival #{rival} is larger");
            assert!(at_epoch_1(q).unwrap().min(0.995) > p["prediction"]["upper"].as_f64().unwrap(), "#{id}: rival #{rival} is not above {p}");
        }
    }
    assert!(predicted > 0, "guidance predicted nothing");
}

/// The full-fidelity finish retrained the seed and every front member twice, and the front's
/// test accuracy is the mean of the two.
fn assert_finished(store: &Value) {
    let cands = store["candidates"].as_array().unwrap();
    let finals = store["finals"].as_array().unwrap();
    let front: Vec<i64> = cands.iter().filter(|c| c["test_accuracy"].is_f64()).map(|c| c["id"].as_i64().unwrap()).collect();
    assert!(front.contains(&0), "the seed was not retrained: {front:?}");
    assert_eq!(finals.len(), 2 * front.len(), "{finals:?}");
    for id in front {
        let tests: Vec<f64> = finals.iter().filter(|f| f["id"] == id).map(|f| f["test_accuracy"].as_f64().unwrap()).collect();
        let mean = tests.iter().sum::<f64>() / 2.0;
        assert_eq!(cands[id as usize]["test_accuracy"].as_f64(), Some(mean), "#{id}");
        assert!(mean > 0.0 && mean <= 1.0, "#{id}: {mean}");
    }
    let seed = cands[0]["test_accuracy"].as_f64().unwrap();
    assert!(seed > 0.8, "the seed MLP reached {seed} on the digits at full fidelity");
}

#[test]
fn killed_and_resumed_runs_equal_an_uninterrupted_run_and_jobs_do_not_matter() {
    let dir = tmp("kill");
    let t0 = std::time::Instant::now();
    let reference = complete_run(&dir, "2");
    let full_ms = t0.elapsed().as_millis() as u64;
    let want = export(&reference);
    let cands = want["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), TRIALS.parse::<usize>().unwrap());
    assert!(cands.iter().all(|c| c["status"] != "pending"));
    assert!(cands.iter().any(|c| c["status"] == "done" && c["parent"].is_number()), "some mutants trained");
    assert_finished(&want);
    assert!(cands.iter().any(|c| c["parent"].is_number() && c["inherited"].as_i64() > Some(0)), "no child inherited weights");
    let kept: Vec<i64> = cands.iter().filter(|c| c["test_accuracy"].is_f64()).map(|c| c["id"].as_i64().unwrap()).collect();
    let mut files: Vec<String> =
        std::fs::read_dir(reference.with_extension("weights")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort_by_key(|f| f.trim_end_matches(".bpk").parse::<i64>().unwrap_or(-1));
    assert_eq!(files, kept.iter().map(|id| format!("{id}.bpk")).collect::<Vec<_>>(), "trained weights kept for the seed and the front only");
    let over: Vec<&Value> = cands.iter().filter(|c| c["inherited"].as_i64() > c["params"].as_i64()).collect();
    assert!(over.is_empty(), "inherited more than it has: {over:?}");
    assert_stops_are_justified(cands);
    assert_skips_are_justified(cands);

    // --jobs 1 gives the same store.
    let one = complete_run(&dir, "1");
    assert_eq!(export(&one), want, "--jobs 1 and --jobs 2 differ");

    // Kill at random moments (seeded, each within the first 3–15 % of an uninterrupted run's
    // time, so five kills land before the end), resume each time. Should the run still finish
    // first (a slower machine), start a fresh store with shorter delays.
    let mut rng = Rng::new(42);
    let (mut kills, mut scale, mut store) = (0, 1.0f64, dir.join("killed-0.sqlite"));
    for attempt in 0..6 {
        store = dir.join(format!("killed-{attempt}.sqlite"));
        kills = 0;
        let mut first = true;
        for _ in 0..12 {
            let args = if first { start_args(&store, "2") } else { vec!["--resume".into(), store.display().to_string(), "--quiet".into()] };
            first = false;
            let mut child = nasc().arg("evolve").args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            let ms = (full_ms as f64 * scale * (0.03 + 0.12 * rng.unit())) as u64;
            std::thread::sleep(Duration::from_millis(ms));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                kills += 1;
            }
            let _ = child.wait();
            if kills >= 5 {
                break;
            }
        }
        if kills >= 5 {
            break;
        }
        scale /= 2.0;
    }
    assert!(kills >= 5, "only {kills} kills hit a running process");
    println!("{kills} SIGKILLs hit the run in {} (uninterrupted run: {full_ms} ms)", store.display());
    let out = run(&["--resume".into(), store.display().to_string(), "--quiet".into()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = export(&store);
    let ids: Vec<i64> = got["candidates"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (0..ids.len() as i64).collect::<Vec<_>>(), "each candidate exactly once");
    assert_eq!(got, want, "a killed and resumed run differs from the uninterrupted one");

    // SIGTERM ends a run cleanly (a message, exit 1, in-flight candidates pending) and
    // `--resume` finishes it to the same store.
    let mut termed_once = false;
    for attempt in 0..6 {
        let termed = dir.join(format!("termed-{attempt}.sqlite"));
        let mut child = nasc().arg("evolve").args(start_args(&termed, "2")).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(full_ms / (4 << attempt)));
        if child.try_wait().unwrap().is_some() {
            continue;
        }
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            continue; // finished before the signal arrived
        }
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("stopped by a signal:") && err.contains("--resume"), "{err}");
        let out = run(&["--resume".into(), termed.display().to_string(), "--quiet".into()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(export(&termed), want, "a SIGTERMed and resumed run differs from the uninterrupted one");
        termed_once = true;
        break;
    }
    assert!(termed_once, "no SIGTERM hit a running search");

    // Outputs: status, CSV, the front's .nas files (each checks) and the SVG.
    let status = nasc().args(["evolve", "--status"]).arg(&reference).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("complete") && text.contains("Pareto front") && text.contains("controller"), "{text}");
    assert!(text.contains("selection on a fixed validation split of 143 training images (standard error ±"), "{text}");
    assert!(text.contains("subsets of 1,100 of the others"), "{text}");
    assert!(text.contains("evaluation  median") && text.contains("per validation pass"), "{text}");
    assert!(text.contains("mutations   failed: alpha"), "{text}");
    assert!(text.contains("inherit     ") && text.contains("started from their parent's weights"), "{text}");
    assert!(text.contains("finish      2 epochs × 2 seeds on every training image outside the validation split:") && text.contains("0 (seed)"), "{text}");
    assert!(text.contains("early stop  rungs 1 (margin 0.000)") && text.contains("saved"), "{text}");
    assert!(text.contains("guidance    both (z 2):") && text.contains("Spearman") && text.contains("model now:"), "{text}");
    let csv = nasc().args(["evolve", "--export", "csv", "--store"]).arg(&reference).output().unwrap();
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(csv.starts_with("id,parent,strategy,status,accuracy"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + cands.len());
    let front_dir = reference.with_extension("pareto");
    let svg = std::fs::read_to_string(front_dir.join("pareto.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("Pareto front"), "{svg}");
    let nas: Vec<PathBuf> = std::fs::read_dir(&front_dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "nas")).collect();
    assert!(!nas.is_empty());
    let check = nasc().arg("check").args(&nas).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_stored_candidate_checks_and_alpha_fills_meet_their_targets() {
    let dir = tmp("check");
    let store = complete_run(&dir, "2");
    let v = export(&store);
    let (mut verified, mut tested) = (0, 0);
    for c in v["candidates"].as_array().unwrap() {
        if let Err(f) = nasc::evolve::source::compile(c["source"].as_str().unwrap()) {
            panic!("candidate {} does not check: {f}", c["id"]);
        }
        let props: Value = serde_json::from_str(c["properties"].as_str().unwrap()).unwrap();
        if props.get("fill").is_some() {
            assert_eq!(props["verified"], Value::Bool(true), "{props}");
            verified += 1;
        }
        if c["status"] == "skipped" {
            assert!(c["error"].as_str().is_some_and(|e| !e.is_empty()), "a skipped candidate says why");
        }
        // The default run selects on a validation split and measures test accuracy apart,
        // for the final front only.
        if c["status"] == "done" {
            assert!((0.0..=1.0).contains(&c["accuracy"].as_f64().unwrap()), "{c}");
        }
        if let Some(test) = c["test_accuracy"].as_f64() {
            assert!((0.0..=1.0).contains(&test) && c["status"] == "done" && c["error"].is_null(), "{c}");
            tested += 1;
        }
    }
    assert!(tested > 0, "no front member has a test accuracy");
    assert!(verified > 0, "no alpha mutation was stored");
    let _ = std::fs::remove_dir_all(&dir);
}

fn stderr_of(args: &[&str]) -> String {
    let out = nasc().args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn user_errors_are_messages() {
    let dir = tmp("errors");
    let root = env!("CARGO_MANIFEST_DIR");
    let mlp = format!("{root}/examples/mlp_digits.nas");
    let store = dir.join("s.sqlite");
    let e = stderr_of(&["evolve", &mlp, "--trials", "2"]);
    assert!(e.contains("--data is required"), "{e}");
    let e = stderr_of(&["evolve", "--resume", store.to_str().unwrap()]);
    assert!(e.contains("no store at"), "{e}");
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--set", "p_wat=1", "--store", store.to_str().unwrap()]);
    assert!(e.contains("unknown key `p_wat`"), "{e}");
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--epochs", "3", "--rungs", "1,3", "--store", store.to_str().unwrap()]);
    assert!(e.contains("--rungs 1,3: the rung 3 is not before the last epoch (3)"), "{e}");
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--stop-margin", "0.1", "--store", store.to_str().unwrap()]);
    assert!(e.contains("--rungs"), "{e}");
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--guidance", "both", "--guidance-z", "-1", "--store", store.to_str().unwrap()]);
    assert!(e.contains("invalid value '-1' for '--guidance-z <GUIDANCE_Z>': must be 0 or more, found -1"), "{e}");
    // Numbers out of range are refused by name before anything is stored.
    for (flag, value, why) in [
        ("--lr", "-1", "must be above 0, found -1"),
        ("--lr", "nan", "nan is not a finite number"),
        ("--weight-decay", "nan", "nan is not a finite number"),
        ("--epochs", "0", "must be at least 1, found 0"),
        ("--jobs", "0", "must be at least 1, found 0"),
        ("--window", "0", "must be at least 1, found 0"),
        ("--batch", "0", "must be at least 1, found 0"),
        ("--max-params", "-5", "must be a whole number, 0 or more, found -5"),
        ("--min-accuracy", "2", "must be from 0 to 1, found 2"),
    ] {
        let e = stderr_of(&["evolve", &mlp, "--data", "digits", &format!("{flag}={value}"), "--store", store.to_str().unwrap()]);
        assert!(e.contains(&format!("invalid value '{value}' for '{flag}")) && e.contains(why), "{flag}={value}: {e}");
    }
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--guidance-after", "2", "--store", store.to_str().unwrap()]);
    assert!(e.contains("--guidance-after must be at least 3"), "{e}");
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--guidance", "always", "--store", store.to_str().unwrap()]);
    assert!(e.contains("invalid value 'always' for '--guidance") && e.contains("possible values: off, ops, skip, both"), "{e}");
    // Ray: the address is needed, belongs to the Ray executor, and an unreachable head is one
    // clear error before anything is stored.
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--executor", "ray", "--store", store.to_str().unwrap()]);
    assert!(e.contains("--executor ray needs --ray-address"), "{e}");
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--ray-address", "http://127.0.0.1:9", "--store", store.to_str().unwrap()]);
    assert!(e.contains("--ray-address needs --executor ray"), "{e}");
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--executor", "ray", "--ray-address", "http://127.0.0.1:9", "--store", store.to_str().unwrap()]);
    assert!(e.contains("the Ray head at http://127.0.0.1:9 cannot be reached") && e.contains("ray start --head"), "{e}");
    let hole = format!("{root}/examples/holes/conv_down_hole.nas");
    let e = stderr_of(&["evolve", &hole, "--data", "digits", "--store", store.to_str().unwrap()]);
    assert!(e.contains("has holes"), "{e}");
    let bad = format!("{root}/tests/suite/residual_shape_mismatch.nas");
    let e = stderr_of(&["evolve", &bad, "--data", "digits", "--store", store.to_str().unwrap()]);
    assert!(e.contains("does not check") && e.contains("E0301"), "{e}");
    // No GPU here (nor a CUDA build in CI): one clear error before any candidate.
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--device", "cuda", "--store", store.to_str().unwrap()]);
    assert!(e.contains("built without CUDA") || e.contains("cannot use CUDA here: NVIDIA driver library libcuda.so.1 not found"), "{e}");
    assert!(!store.exists(), "nothing is stored");
    // A second process cannot run a store that a live one is running.
    let busy = dir.join("busy.sqlite");
    let mut args = start_args(&busy, "1");
    let k = args.iter().position(|a| a == "--trials").unwrap();
    args[k + 1] = "500".into();
    let mut running = nasc().arg("evolve").args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    for _ in 0..200 {
        if busy.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let e = stderr_of(&["evolve", "--resume", busy.to_str().unwrap(), "--quiet"]);
    running.kill().unwrap();
    let _ = running.wait();
    assert!(e.contains("another nasc process") && e.contains("is running this store"), "{e}");
    std::fs::write(&store, "not a database").unwrap();
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--store", store.to_str().unwrap()]);
    assert!(e.contains("already exists") && e.contains("--resume"), "{e}");
    let e = stderr_of(&["evolve", "--status", store.to_str().unwrap()]);
    assert!(e.contains("not a nasc store") || e.contains("cannot open"), "{e}");
    let e = stderr_of(&["evolve", &mlp, "--data", "mnist:/no/such/dir", "--store", dir.join("t.sqlite").to_str().unwrap()]);
    assert!(e.contains("data directory /no/such/dir does not exist"), "{e}");
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--val-size", "1437", "--store", store.to_str().unwrap()]);
    assert!(e.contains("--val-size 1437 leaves none of the 1437 training images of digits to train on"), "{e}");
    let e = stderr_of(&["evolve", &mlp, "--data", "digits", "--final-seeds", "0", "--store", store.to_str().unwrap()]);
    assert!(e.contains("invalid value '0' for '--final-seeds <N>': must be at least 1, found 0"), "{e}");
    let e = stderr_of(&["evolve", "--finalize", store.to_str().unwrap()]);
    assert!(e.contains("not a nasc store") || e.contains("cannot open"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A one-epoch search on the digits from `examples/MODEL` into `store`, which must succeed.
fn evolve_digits(model: &str, store: &Path, extra: &[&str]) {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = nasc()
        .arg("evolve")
        .arg(format!("{root}/examples/{model}"))
        .args(["--data", "digits", "--epochs", "1", "--jobs", "2", "--quiet"])
        .args(extra)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// alpha's two-input mutations (a residual sum and the ops after it) and mutations of a subset
/// of a block's calls reach the store, each fill re-checked against its targets when stored.
#[test]
fn junction_and_call_subset_mutations_are_stored_verified() {
    let dir = tmp("junction");
    let store = dir.join("res.sqlite");
    evolve_digits("resmlp_digits.nas", &store, &["--trials", "24", "--seed", "5"]);
    let v = export(&store);
    let (mut junctions, mut subsets) = (0, 0);
    for c in v["candidates"].as_array().unwrap() {
        let props: Value = serde_json::from_str(c["properties"].as_str().unwrap()).unwrap();
        if props.get("inputs").is_some() {
            assert_eq!((props["verified"].as_bool(), props["inputs"].as_array().map(Vec::len)), (Some(true), Some(2)), "{props}");
            junctions += 1;
        }
        if let Some(note) = props["calls"].as_str() {
            let copy = note.rsplit("now ").next().unwrap();
            assert!(note.contains(" calls of Residual") && copy.starts_with("Residual"), "{note}");
            assert!(c["source"].as_str().unwrap().contains(&format!("block {copy}(")), "{c}");
            subsets += 1;
        }
    }
    assert!(junctions >= 1 && subsets >= 1, "{junctions} junction mutations, {subsets} on a subset of calls");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run without the finish is finished later with `--finalize`, which refuses to mix settings
/// once done and refuses an incomplete run.
#[test]
fn finalize_adds_the_full_fidelity_finish_to_a_stored_run() {
    let dir = tmp("finalize");
    let store = dir.join("f.sqlite");
    evolve_digits("mlp_digits.nas", &store, &["--trials", "4", "--final-epochs", "0", "--val-size", "300"]);
    let before = export(&store);
    assert!(before["finals"].as_array().unwrap().is_empty());
    let s = store.to_str().unwrap();
    let out = nasc().args(["evolve", "--finalize", s, "--final-epochs", "1", "--final-seeds", "2", "--quiet"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = export(&store);
    assert_finished(&after);
    assert_eq!(after["settings"]["finish"], serde_json::json!({ "epochs": 1, "seeds": 2 }));
    let status = String::from_utf8_lossy(&nasc().args(["evolve", "--status", s]).output().unwrap().stdout).into_owned();
    assert!(status.contains("finish      1 epochs × 2 seeds") && status.contains("trainings done\n") && status.contains("final test"), "{status}");
    let e = stderr_of(&["evolve", "--finalize", s, "--final-epochs", "3"]);
    assert!(e.contains("already finished with 1 epochs × 2 seeds"), "{e}");
    let again = nasc().args(["evolve", "--finalize", s, "--final-epochs", "1", "--final-seeds", "2", "--quiet"]).output().unwrap();
    assert!(again.status.success() && export(&store) == after, "finalizing twice changes nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_reports_groups_and_refuses_what_it_cannot_compare() {
    let dir = tmp("compare");
    let run_one = |name: &str, seed: &str, strategy: &str, model: &str| {
        let store = dir.join(name);
        evolve_digits(model, &store, &["--trials", "6", "--seed", seed, "--strategy", strategy]);
        store
    };
    let a = [run_one("a1.sqlite", "1", "alpha", "mlp_digits.nas"), run_one("a2.sqlite", "2", "alpha", "mlp_digits.nas")];
    let p = [run_one("p1.sqlite", "1", "primer", "mlp_digits.nas"), run_one("p2.sqlite", "2", "primer", "mlp_digits.nas")];
    let svg = dir.join("fronts.svg");
    let out = nasc().arg("compare").args(a.iter().chain(&p)).arg("--svg").arg(&svg).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("alpha vs primer: U = ") && text.contains("(exact)"), "{text}");
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.contains("<svg") && svg.contains("primer"), "{svg}");
    let json = nasc().arg("compare").args(&a).arg("--json").output().unwrap();
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!((v["groups"][0]["name"].as_str(), v["groups"][0]["runs"].as_u64()), (Some("alpha"), Some(2)), "{v}");
    // Cut after the first 3 trainings: the seed and two mutants (reuses and skips cost none).
    let cut = nasc().arg("compare").args(&a).args(["--trainings", "3", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&cut.stdout).unwrap();
    assert_eq!(v["trainings"], 3, "{v}");
    for r in v["runs"].as_array().unwrap() {
        assert!(r["trainings"] == 3 && r["candidates"].as_u64().unwrap() <= 6 && r["short"] == false, "{r}");
    }
    let e = stderr_of(&["compare", a[0].to_str().unwrap(), "--trainings", "0"]);
    assert!(e.contains("--trainings must be at least 1"), "{e}");
    // Errors a user can make: a missing store, a file that is not one, runs from another seed model.
    let e = stderr_of(&["compare", dir.join("none.sqlite").to_str().unwrap()]);
    assert!(e.contains("no store at"), "{e}");
    std::fs::write(dir.join("junk.sqlite"), "not a database").unwrap();
    let e = stderr_of(&["compare", dir.join("junk.sqlite").to_str().unwrap()]);
    assert!(e.contains("not a nasc store") || e.contains("cannot open"), "{e}");
    let other = run_one("o.sqlite", "1", "alpha", "cnn_digits.nas");
    let e = stderr_of(&["compare", a[0].to_str().unwrap(), other.to_str().unwrap()]);
    assert!(e.contains("searched from another seed architecture or data"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--objectives params,latency`: every trained candidate is compiled to native code and timed
/// on its worker; the latency is stored, exported and copied to reuses.
#[test]
fn the_latency_objective_times_every_trained_candidate() {
    let dir = tmp("latency");
    let store = dir.join("l.sqlite");
    evolve_digits("mlp_digits.nas", &store, &["--trials", "8", "--objectives", "params,latency", "--seed", "3"]);
    let out = nasc().args(["evolve", "--export", "json", "--store"]).arg(&store).output().unwrap();
    let full: Value = serde_json::from_slice(&out.stdout).unwrap();
    let trained: Vec<&Value> =
        full["candidates"].as_array().unwrap().iter().filter(|c| ["done", "stopped", "reused"].contains(&c["status"].as_str().unwrap())).collect();
    assert!(trained.len() >= 3, "{full}");
    for c in trained {
        let ms = c["latency_ms"].as_f64().unwrap_or(-1.0);
        assert!(ms > 0.0 && ms < 1000.0, "candidate #{}: latency {ms}", c["id"]);
    }
    let csv = nasc().args(["evolve", "--export", "csv", "--store"]).arg(&store).output().unwrap();
    assert!(String::from_utf8_lossy(&csv.stdout).lines().next().unwrap().ends_with(",latency_ms"));
    let _ = std::fs::remove_dir_all(&dir);
}
