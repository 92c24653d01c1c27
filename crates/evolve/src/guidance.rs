//! Learned guidance (issue 18; DeepCoder's idea, Balog et al. 2017, on a search's own history):
//! a small model fitted on the run's trained candidates predicts a child's accuracy from its op
//! counts and sizes. It (a) orders the ops synthesis tries (`--guidance ops`: an op whose count
//! raises predicted accuracy is tried first) and (b) skips a child predicted, with margin, to be
//! dominated (`--guidance skip`: recorded as skipped with the prediction, never trained).
//!
//! The model is ridge regression of the accuracy's logit on standardised features, solved in
//! closed form (the logit keeps predictions between 0 and 1 where a linear model would
//! extrapolate past them); its error is the leave-one-out residual (exact for ridge, through
//! the hat matrix), so "with high confidence" means the prediction plus `z` leave-one-out
//! errors, on the logit scale, is still below a rival.
//! Determinism: it is fitted only on candidates at least `--window` ids older (the pool the
//! parent is chosen from, all finished), so a store does not depend on timing or `--jobs`.

use super::early_stop::{accuracy_at, no_larger};
use super::select::Objective;
use super::source;
use super::store::{Record, Status};
use nasc_core::ir::NodeKind;
use nasc_core::ops::{OpKind, spec};
use nasc_core::synth::OpPrior;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// No model: every op alike, every child trained.
    #[default]
    Off,
    /// Order the ops synthesis tries by the model's op effects.
    Ops,
    /// Skip children predicted to be dominated.
    Skip,
    /// Both.
    Both,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Ops => "ops",
            Mode::Skip => "skip",
            Mode::Both => "both",
        }
    }
    pub fn orders_ops(self) -> bool {
        matches!(self, Mode::Ops | Mode::Both)
    }
    pub fn skips(self) -> bool {
        matches!(self, Mode::Skip | Mode::Both)
    }
}

/// Stored with the run's settings, so `--resume` guides the same way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub mode: Mode,
    /// No model before this many trained candidates.
    pub min_samples: usize,
    /// A child is skipped when prediction + z × leave-one-out error is below a rival.
    pub z: f64,
    /// Ridge penalty, in units of standardised features.
    pub ridge: f64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { mode: Mode::Off, min_samples: 16, z: 2.0, ridge: 1.0 }
    }
}

/// What the model sees of an architecture, from one check of its source.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub params: i64,
    pub macs: i64,
    /// Longest path through the inlined graph, in ops.
    pub depth: usize,
    pub ops: BTreeMap<OpKind, usize>,
}

pub fn profile(text: &str) -> Result<Profile, crate::Error> {
    let does_not_compile = |f: nasc_core::Failure| crate::Error::Program(f.first_message());
    let c = source::compile(text).map_err(does_not_compile)?;
    let r = c.report(None).map_err(does_not_compile)?;
    // The report's MACs are already per example (batch 1).
    let (Some(params), Some(macs)) = (r.params.as_int(), r.macs.as_int()) else {
        return Err(crate::Error::Program("the candidate's size is not a number (symbolic input shape)".into()));
    };
    let g = c.model(None).map_err(does_not_compile)?.graph;
    let mut ops = BTreeMap::new();
    let mut level = vec![0usize; g.tensors.len()];
    let mut depth = 0;
    for n in &g.nodes {
        let d = 1 + n.inputs.iter().map(|&t| level[t]).max().unwrap_or(0);
        for &t in &n.outputs {
            level[t] = d;
        }
        depth = depth.max(d);
        if let NodeKind::Op { op, .. } = &n.kind {
            *ops.entry(*op).or_insert(0) += 1;
        }
    }
    Ok(Profile { params, macs, depth, ops })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Feature {
    LogParams,
    LogMacs,
    Depth,
    Count(OpKind),
}

impl Feature {
    fn of(self, p: &Profile) -> f64 {
        match self {
            Feature::LogParams => (p.params.max(1) as f64).ln(),
            Feature::LogMacs => (p.macs.max(1) as f64).ln(),
            Feature::Depth => p.depth as f64,
            Feature::Count(op) => p.ops.get(&op).copied().unwrap_or(0) as f64,
        }
    }
}

/// A fitted accuracy model.
#[derive(Clone, Debug)]
pub struct Predictor {
    features: Vec<Feature>,
    mean: Vec<f64>,
    sd: Vec<f64>,
    beta: Vec<f64>,
    intercept: f64,
    /// Root-mean-square leave-one-out error, on the logit scale.
    pub sigma: f64,
    pub samples: usize,
}

impl Predictor {
    /// Fit on (profile, accuracy) pairs; `None` with fewer than `min_samples` or nothing that varies.
    pub fn fit(data: &[(&Profile, f64)], s: &Settings) -> Option<Predictor> {
        let n = data.len();
        if n < s.min_samples.max(3) {
            return None;
        }
        let mut all = vec![Feature::LogParams, Feature::LogMacs, Feature::Depth];
        let kinds: std::collections::BTreeSet<OpKind> = data.iter().flat_map(|(p, _)| p.ops.keys().copied()).collect();
        all.extend(kinds.into_iter().map(Feature::Count));
        let (mut features, mut mean, mut sd, mut cols) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for f in all {
            let col: Vec<f64> = data.iter().map(|(p, _)| f.of(p)).collect();
            let m = col.iter().sum::<f64>() / n as f64;
            let v = (col.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt();
            if v > 1e-9 {
                cols.push(col.iter().map(|x| (x - m) / v).collect::<Vec<f64>>());
                features.push(f);
                mean.push(m);
                sd.push(v);
            }
        }
        if features.is_empty() {
            return None;
        }
        let k = features.len();
        let y: Vec<f64> = data.iter().map(|(_, a)| logit(*a)).collect();
        let intercept = y.iter().sum::<f64>() / n as f64;
        // A = ZᵀZ + λI, b = Zᵀ(y − ȳ)
        let mut a = vec![vec![0.0; k]; k];
        let mut b = vec![0.0; k];
        for i in 0..k {
            for j in 0..k {
                a[i][j] = (0..n).map(|r| cols[i][r] * cols[j][r]).sum::<f64>() + if i == j { s.ridge } else { 0.0 };
            }
            b[i] = (0..n).map(|r| cols[i][r] * (y[r] - intercept)).sum();
        }
        let inv = invert(a)?;
        let beta: Vec<f64> = (0..k).map(|i| (0..k).map(|j| inv[i][j] * b[j]).sum()).collect();
        let mut sq = 0.0;
        for r in 0..n {
            let z: Vec<f64> = (0..k).map(|i| cols[i][r]).collect();
            let fitted = intercept + (0..k).map(|i| beta[i] * z[i]).sum::<f64>();
            let h = 1.0 / n as f64 + (0..k).map(|i| z[i] * (0..k).map(|j| inv[i][j] * z[j]).sum::<f64>()).sum::<f64>();
            let loo = (y[r] - fitted) / (1.0 - h).max(1e-6);
            sq += loo * loo;
        }
        let sigma = (sq / n as f64).sqrt();
        Some(Predictor { features, mean, sd, beta, intercept, sigma, samples: n })
    }

    /// The predicted logit of the accuracy.
    pub fn predict_logit(&self, p: &Profile) -> f64 {
        let terms = self.features.iter().enumerate().map(|(i, f)| self.beta[i] * (f.of(p) - self.mean[i]) / self.sd[i]);
        self.intercept + terms.sum::<f64>()
    }

    pub fn predict(&self, p: &Profile) -> f64 {
        sigmoid(self.predict_logit(p))
    }

    /// The accuracy `z` leave-one-out errors above the prediction.
    pub fn upper(&self, p: &Profile, z: f64) -> f64 {
        sigmoid(self.predict_logit(p) + z * self.sigma)
    }

    /// Synthesis weights: an op whose one more use is predicted to add `e` to the accuracy's
    /// logit weighs exp(e / σ), between e⁻² and e²: effects within the model's error change little.
    pub fn prior(&self) -> OpPrior {
        let weights = self
            .features
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                Feature::Count(op) => Some((*op, (self.beta[i] / self.sd[i] / self.sigma.max(1e-6)).clamp(-2.0, 2.0).exp())),
                _ => None,
            })
            .collect();
        OpPrior { weights }
    }

    /// The prediction as stored with a candidate (`properties.prediction`).
    pub fn evidence(&self, p: &Profile, z: f64, epoch: usize) -> serde_json::Value {
        json!({ "accuracy": self.predict(p), "upper": self.upper(p, z), "sigma_logit": self.sigma, "samples": self.samples, "epoch": epoch })
    }

    /// The op effects, strongest first, for reports: (op name, change of the accuracy's logit
    /// per extra op).
    pub fn effects(&self) -> Vec<(&'static str, f64)> {
        let mut e: Vec<(&'static str, f64)> = self
            .features
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                Feature::Count(op) => Some((spec(*op).name, self.beta[i] / self.sd[i])),
                _ => None,
            })
            .collect();
        e.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        e
    }
}

/// Accuracies are clamped to this range before the logit (a finite target for 0 and 100 %).
const ACC_MIN: f64 = 0.005;
const ACC_MAX: f64 = 0.995;

fn logit(a: f64) -> f64 {
    let a = a.clamp(ACC_MIN, ACC_MAX);
    (a / (1.0 - a)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Gauss–Jordan with partial pivoting; `None` if singular (ridge keeps it from being).
fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let k = a.len();
    let mut inv: Vec<Vec<f64>> = (0..k).map(|i| (0..k).map(|j| f64::from(u8::from(i == j))).collect()).collect();
    for c in 0..k {
        let p = (c..k).max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        inv.swap(c, p);
        let d = a[c][c];
        for j in 0..k {
            a[c][j] /= d;
            inv[c][j] /= d;
        }
        for r in (0..k).filter(|&r| r != c) {
            let f = a[r][c];
            if f != 0.0 {
                for j in 0..k {
                    a[r][j] -= f * a[c][j];
                    inv[r][j] -= f * inv[c][j];
                }
            }
        }
    }
    Some(inv)
}

/// The model fitted on the trained candidates of `pool`, with `profile` giving each one's
/// features (a cache in a running search).
pub fn fit_records(pool: &[Record], epoch: usize, s: &Settings, mut profile: impl FnMut(&Record) -> Option<Profile>) -> Option<Predictor> {
    let sample = |r: &Record| {
        let acc = sample_accuracy(r, epoch)?;
        Some((profile(r)?, acc))
    };
    let data: Vec<(Profile, f64)> = pool.iter().filter_map(sample).collect();
    Predictor::fit(&data.iter().map(|(p, a)| (p, *a)).collect::<Vec<_>>(), s)
}

/// The epoch whose accuracy the model predicts: the first rung when the run stops early (every
/// training reaches it, stopped or not), else the last epoch.
pub fn reference_epoch(epochs: usize, early_stop: Option<&super::early_stop::EarlyStop>) -> usize {
    early_stop.and_then(|e| e.rungs.first().copied()).unwrap_or(epochs)
}

/// A trained candidate's accuracy at `epoch` (reuses and failures are not samples).
pub fn sample_accuracy(r: &Record, epoch: usize) -> Option<f64> {
    if !matches!(r.status, Status::Done | Status::Stopped) {
        return None;
    }
    accuracy_at(r.curve.as_deref()?, epoch)
}

/// The best rival a child cannot beat with confidence: an evaluated candidate no larger in the
/// static objectives whose accuracy at `epoch` is above `upper`, the child's predicted accuracy
/// plus z errors. Returns (rival id, its accuracy).
pub fn dominated_by(child: &Record, upper: f64, pool: &[Record], epoch: usize, objectives: &[Objective]) -> Option<(i64, f64)> {
    pool.iter()
        .filter(|q| q.status.evaluated() && no_larger(q, child, objectives))
        .filter_map(|q| {
            let src = q.reused_from.and_then(|id| pool.get(id as usize)).unwrap_or(q);
            Some((q.id, accuracy_at(src.curve.as_deref()?, epoch)?))
        })
        // Clamped as the model's targets are: a rival at 100 % is no better evidence than 99.5 %.
        .filter(|&(_, a)| a.clamp(ACC_MIN, ACC_MAX) > upper)
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
}

/// Spearman's rank correlation of stored predictions with the accuracy then measured, over
/// trained candidates that have both; `None` with fewer than 3.
pub fn rank_correlation(records: &[Record], epoch: usize) -> Option<(f64, usize)> {
    let pairs: Vec<(f64, f64)> = records.iter().filter_map(|r| Some((prediction(r)?, sample_accuracy(r, epoch)?))).collect();
    if pairs.len() < 3 {
        return None;
    }
    let rx = ranks(&pairs.iter().map(|p| p.0).collect::<Vec<_>>());
    let ry = ranks(&pairs.iter().map(|p| p.1).collect::<Vec<_>>());
    Some((pearson(&rx, &ry), pairs.len()))
}

/// The accuracy predicted for a candidate when it was created.
pub fn prediction(r: &Record) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(&r.properties).ok()?;
    v["prediction"]["accuracy"].as_f64()
}

/// Was the candidate skipped because it was predicted dominated?
pub fn skipped(r: &Record) -> bool {
    r.status == Status::Skipped && serde_json::from_str::<serde_json::Value>(&r.properties).is_ok_and(|v| v["prediction"]["skipped_for"].is_i64())
}

/// Average ranks (ties share their mean rank).
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            r[k] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    r
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let (vx, vy): (f64, f64) = (x.iter().map(|a| (a - mx).powi(2)).sum(), y.iter().map(|b| (b - my).powi(2)).sum());
    if vx == 0.0 || vy == 0.0 { 0.0 } else { cov / (vx * vy).sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prof(params: i64, relu: usize, gelu: usize) -> Profile {
        let ops = [(OpKind::Dense, 2), (OpKind::Relu, relu), (OpKind::Gelu, gelu)].into_iter().filter(|(_, n)| *n > 0).collect();
        Profile { params, macs: params * 3, depth: 2 + relu + gelu, ops }
    }

    #[test]
    fn ridge_recovers_a_linear_rule_and_its_error_is_small() {
        // logit(accuracy) = 0.5·gelu − 0.2·relu, exactly.
        let profiles: Vec<Profile> = (0..30).map(|i| prof(1000 + 37 * i, (i % 4) as usize, (i % 3) as usize)).collect();
        let count = |p: &Profile, op| p.ops.get(&op).map_or(0.0, |&n| n as f64);
        let data: Vec<(&Profile, f64)> = profiles.iter().map(|p| (p, sigmoid(0.5 * count(p, OpKind::Gelu) - 0.2 * count(p, OpKind::Relu)))).collect();
        let s = Settings { ridge: 1e-6, ..Settings::default() };
        let p = Predictor::fit(&data, &s).unwrap();
        for (pr, a) in &data {
            assert!((p.predict(pr) - a).abs() < 1e-4, "{} vs {a}", p.predict(pr));
        }
        assert!(p.sigma < 1e-3, "leave-one-out error {}", p.sigma);
        let prior = Predictor::fit(&data, &Settings::default()).unwrap().prior();
        assert!(prior.weight(OpKind::Gelu) > 1.0 && prior.weight(OpKind::Relu) < 1.0, "{prior:?}");
        assert_eq!(prior.weight(OpKind::Conv), 1.0);
    }

    #[test]
    fn too_few_samples_give_no_model() {
        let p = prof(10, 1, 0);
        let data = vec![(&p, 0.5); 5];
        assert!(Predictor::fit(&data, &Settings::default()).is_none());
        // Nothing varies: nothing to learn.
        let data = vec![(&p, 0.5); 40];
        assert!(Predictor::fit(&data, &Settings::default()).is_none());
    }

    #[test]
    fn leave_one_out_error_matches_refitting() {
        let profiles: Vec<Profile> = (0..24).map(|i| prof(500 + (i * i * 13) % 900, (i % 5) as usize, (i % 2) as usize)).collect();
        let acc = |i: usize| 0.6 + 0.01 * ((i * 7) % 11) as f64;
        let data: Vec<(&Profile, f64)> = profiles.iter().enumerate().map(|(i, p)| (p, acc(i))).collect();
        let s = Settings { min_samples: 3, ..Settings::default() };
        let full = Predictor::fit(&data, &s).unwrap();
        // Refit without each sample. Standardisation is recomputed per refit, so the closed
        // form (fixed standardisation) and the refits agree only approximately.
        let mut sq = 0.0;
        for i in 0..data.len() {
            let rest: Vec<(&Profile, f64)> = data.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, d)| *d).collect();
            let e = Predictor::fit(&rest, &s).unwrap().predict_logit(data[i].0) - logit(data[i].1);
            sq += e * e;
        }
        let refit = (sq / data.len() as f64).sqrt();
        assert!((full.sigma - refit).abs() < 0.25 * refit, "closed form {} vs refits {refit}", full.sigma);
    }

    #[test]
    fn spearman_of_known_orders() {
        assert_eq!(pearson(&ranks(&[1.0, 2.0, 3.0, 4.0]), &ranks(&[10.0, 20.0, 30.0, 40.0])), 1.0);
        assert_eq!(pearson(&ranks(&[1.0, 2.0, 3.0, 4.0]), &ranks(&[4.0, 3.0, 2.0, 1.0])), -1.0);
        assert_eq!(ranks(&[5.0, 1.0, 5.0]), vec![2.5, 1.0, 2.5]);
    }
}
