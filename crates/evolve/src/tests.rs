use super::*;
use std::sync::Arc;

const SEED: &str = "model M(x: [B, 8, 8, 1]) -> [B, 10] {\n    return x |> flatten |> dense(32) |> relu |> dense(10)\n}\n";

fn settings(trials: usize) -> Settings {
    let seed = SEED;
    Settings {
        file: "m.nas".into(),
        seed_source: seed.into(),
        data: "digits".into(),
        trials,
        seed: 11,
        strategy: Strategy::Alpha,
        window: 1,
        max_params: Some(30_000),
        max_macs: None,
        train: TrainSettings {
            recipe: nasc_burn::train::Recipe { epochs: 1, weight_decay: 0.0, ..Default::default() },
            time_budget: None,
            threads: 1,
            device: cpu(),
            train_subset: None,
            val_fraction: 0.0,
            val_size: Some(180),
        },
        mutation: MutationConfig::default(),
        selection: SelectionConfig::default(),
        early_stop: None,
        ray: None,
        guidance: guidance::Settings::default(),
        finish: None,
        inherit: false,
        weights_safetensors: false,
    }
}

fn temp_store(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nasc-evolve-unit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("run.sqlite")
}

/// A stand-in for training: accuracy falls with size; every mutant whose seed is divisible
/// by 3 "diverges".
fn fake(job: &Job) -> Result<Outcome, TrainFailure> {
    if job.seed.is_multiple_of(3) && job.source != SEED {
        return Err("training diverged: the loss is NaN".into());
    }
    let (params, _) = report::size(&job.source)?;
    let accuracy = 1.0 / (1.0 + params as f64 / 1e5);
    Ok(Outcome {
        accuracy,
        test_accuracy: job.measure_test.then_some(accuracy * 0.99),
        stopped_at: None,
        curve: "[]".into(),
        throughput: 1.0,
        train_seconds: 0.0,
        started_at: None,
        latency_ms: None,
        eval_seconds: None,
        inherited: None,
    })
}

#[test]
fn failed_trainings_are_recorded_and_the_run_goes_on() {
    let path = temp_store("fail");
    let mut ev = Evolution::start(&path, settings(24)).unwrap();
    ev.run(1, &Evaluator::Custom(Arc::new(fake)), &mut |_, _| {}).unwrap();
    let rs = ev.records();
    assert_eq!(rs.len(), 24);
    assert!(ev.complete());
    let failed: Vec<i64> = rs.iter().filter(|r| r.status == Status::Failed).map(|r| r.id).collect();
    assert!(!failed.is_empty(), "no candidate failed");
    assert!(rs.iter().filter(|r| r.status == Status::Failed).all(|r| r.error.as_deref().is_some_and(|e| e.contains("diverged"))));
    assert!(rs.iter().all(|r| r.parent.is_none_or(|p| !failed.contains(&p))), "a failed candidate was a parent");
    assert!(rs.iter().any(|r| r.status == Status::Done && r.id > 0));
    assert!(rs.iter().all(|r| r.status != Status::Done || r.params.is_some_and(|p| p <= 30_000)), "a candidate over --max-params trained");
    let front: Vec<i64> = report::pareto(rs).iter().map(|r| r.id).collect();
    assert!(!front.is_empty());
    assert!(rs.iter().all(|r| r.test_accuracy.is_some() == front.contains(&r.id)), "test accuracy is measured for the front, and only for it");
    // The store holds what the run holds.
    let again = Evolution::resume(&path).unwrap();
    assert_eq!(again.records(), rs);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// A stand-in whose accuracy rises with each `tanh` and falls with size: something a
/// model of op counts can learn.
fn likes_tanh(job: &Job) -> Result<Outcome, TrainFailure> {
    let p = guidance::profile(&job.source)?;
    let tanh = p.ops.get(&nasc_core::ops::OpKind::Tanh).copied().unwrap_or(0) as f64;
    let accuracy = 1.0 / (1.0 + (-(tanh - 1.0 - p.params as f64 / 2e4)).exp());
    let curve = format!("[{{\"epoch\":1,\"val_accuracy\":{accuracy}}}]");
    Ok(Outcome {
        accuracy,
        test_accuracy: job.measure_test.then_some(accuracy),
        stopped_at: None,
        curve,
        throughput: 1.0,
        train_seconds: 0.0,
        started_at: None,
        latency_ms: None,
        eval_seconds: None,
        inherited: None,
    })
}

fn guided_run(name: &str, mode: guidance::Mode) -> Vec<Record> {
    let path = temp_store(name);
    let mut s = settings(60);
    s.guidance = guidance::Settings { mode, min_samples: 8, ..guidance::Settings::default() };
    let mut ev = Evolution::start(&path, s).unwrap();
    ev.run(1, &Evaluator::Custom(Arc::new(likes_tanh)), &mut |_, _| {}).unwrap();
    let rs = ev.records().to_vec();
    assert_eq!(Evolution::resume(&path).unwrap().records(), &rs[..], "the store holds what the run holds");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    rs
}

#[test]
fn guidance_learns_which_ops_pay_and_skips_only_with_evidence() {
    let tanh_share = |rs: &[Record]| {
        let ps: Vec<guidance::Profile> = rs.iter().skip(20).filter_map(|r| guidance::profile(&r.source).ok()).collect();
        let count = |op| ps.iter().map(|p| p.ops.get(&op).copied().unwrap_or(0)).sum::<usize>() as f64;
        count(nasc_core::ops::OpKind::Tanh) / ps.iter().map(|p| p.ops.values().sum::<usize>()).sum::<usize>() as f64
    };
    let off = guided_run("g-off", guidance::Mode::Off);
    let ops = guided_run("g-ops", guidance::Mode::Ops);
    assert!(off.iter().all(|r| guidance::prediction(r).is_none()), "off predicts nothing");
    assert!(tanh_share(&ops) > tanh_share(&off), "tanh share with the op prior {} vs without {}", tanh_share(&ops), tanh_share(&off));
    let both = guided_run("g-both", guidance::Mode::Both);
    let untimed = |rs: &[Record]| -> Vec<(String, Status, String, Option<String>)> {
        rs.iter().map(|r| (r.source.clone(), r.status, r.properties.clone(), r.error.clone())).collect()
    };
    assert!(untimed(&both) == untimed(&guided_run("g-both-again", guidance::Mode::Both)), "same seed, different stores");
    let skipped: Vec<&Record> = both.iter().filter(|r| guidance::skipped(r)).collect();
    assert!(!skipped.is_empty() && skipped.iter().all(|r| r.error.as_deref().is_some_and(|e| e.starts_with("predicted dominated"))));
    let (rho, n) = guidance::rank_correlation(&both, 1).unwrap();
    assert!(rho > 0.5 && n > 10, "predictions rank the accuracies poorly: rho {rho} over {n}");
}

#[test]
fn candidates_over_the_mac_limit_are_recorded_not_trained() {
    let path = temp_store("macs");
    let mut s = settings(6);
    (s.max_params, s.max_macs) = (None, Some(1));
    let mut ev = Evolution::start(&path, s).unwrap();
    ev.run(1, &Evaluator::Custom(Arc::new(fake)), &mut |_, _| {}).unwrap();
    let rs = ev.records();
    assert_eq!(rs[0].status, Status::Done, "the seed always trains");
    let sized: Vec<&Record> = rs.iter().skip(1).filter(|r| r.macs.is_some()).collect();
    assert!(!sized.is_empty());
    for r in sized {
        assert_eq!(r.status, Status::Skipped, "#{}", r.id);
        let want = format!("too large to train: {} MACs per image, the limit is 1 (--max-macs)", r.macs.unwrap_or(0));
        assert_eq!(r.error.as_deref(), Some(want.as_str()));
    }
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn a_seed_that_fails_stops_the_run_with_its_reason() {
    let path = temp_store("seedfail");
    let mut ev = Evolution::start(&path, settings(3)).unwrap();
    let always = |_: &Job| -> Result<Outcome, TrainFailure> { Err("out of memory".into()) };
    let e = ev.run(1, &Evaluator::Custom(Arc::new(always)), &mut |_, _| {}).unwrap_err();
    assert!(e.to_string().contains("seed architecture failed to train: out of memory"), "{e}");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn training_settings_are_stored_flat_so_older_stores_still_read() {
    let json = serde_json::to_value(&settings(1).train).unwrap();
    assert_eq!(json["epochs"], 1);
    assert_eq!(json["optimizer"], "adam");
    // A store written before the recipe was one type (and before `device` and `val_size`).
    let old = r#"{"epochs":3,"batch":32,"lr":0.05,"optimizer":"sgd","weight_decay":0.0,"time_budget":null,"threads":1}"#;
    let t: TrainSettings = serde_json::from_str(old).unwrap();
    assert_eq!((t.recipe.epochs, t.recipe.batch, t.recipe.optimizer), (3, 32, nasc_burn::train::Optimizer::Sgd));
    assert_eq!((t.device.as_str(), t.val_size), ("cpu", None));
}
