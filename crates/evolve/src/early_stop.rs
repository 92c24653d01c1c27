//! Multi-objective early stopping (issue 15): at each rung (an epoch count), a candidate whose
//! held-out accuracy so far is below that of an earlier candidate that is no larger in any
//! static objective (params, MACs) by more than a margin, at the same epoch, is stopped.
//!
//! The bars are fixed when the training starts, from candidates at least `--window` ids older
//! (the same pool the parent was selected from, all finished), never from trainings that happen
//! to finish first: the store stays independent of timing and `--jobs`. Comparing accuracies at
//! the same epoch keeps a one-epoch candidate from being judged against nine-epoch ones.

use super::select::Objective;
use super::store::{Record, Status};
use nasc_burn::train::Rung;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    /// Epochs after which a candidate may be stopped, increasing.
    pub rungs: Vec<usize>,
    /// How far (0–1 accuracy) below a dominating candidate's accuracy a candidate must be to stop.
    pub margin: f64,
}

fn setting(why: String) -> crate::Error {
    crate::Error::Setting(why)
}

impl EarlyStop {
    /// Parse `--rungs 1,3` against the run's epochs; rungs at or after the last epoch decide nothing.
    pub fn parse(rungs: &str, margin: f64, epochs: usize) -> Result<EarlyStop, crate::Error> {
        let mut out = Vec::new();
        for part in rungs.split(',').map(str::trim) {
            let e: usize = part.parse().map_err(|_| setting(format!("--rungs takes epoch numbers separated by commas (e.g. 1,3), found `{part}`")))?;
            if e == 0 || out.last().is_some_and(|&l| e <= l) {
                return Err(setting(format!("--rungs must be increasing epoch numbers from 1, found `{rungs}`")));
            }
            if e >= epochs {
                return Err(setting(format!("--rungs {rungs}: the rung {e} is not before the last epoch ({epochs}); a rung there would stop nothing")));
            }
            out.push(e);
        }
        if !(0.0..=1.0).contains(&margin) {
            return Err(setting(format!("--stop-margin is an accuracy difference between 0 and 1, found {margin}")));
        }
        Ok(EarlyStop { rungs: out, margin })
    }

    /// The bars for candidate `me`, from the finished candidates `pool`.
    pub fn bars(&self, me: &Record, pool: &[Record], objectives: &[Objective]) -> Vec<Rung> {
        let rivals: Vec<&Record> = pool.iter().filter(|q| q.id != me.id && q.status.evaluated() && no_larger(q, me, objectives)).collect();
        self.rungs
            .iter()
            .filter_map(|&epoch| {
                let best = rivals.iter().filter_map(|q| accuracy_at(q.curve.as_deref()?, epoch)).reduce(f64::max)?;
                Some(Rung { epoch, min_accuracy: best - self.margin })
            })
            .collect()
    }
}

/// `q` costs no more than `me` in every static objective (throughput and latency are measured, so ignored).
pub(crate) fn no_larger(q: &Record, me: &Record, objectives: &[Objective]) -> bool {
    objectives.iter().all(|o| match o {
        Objective::Params => q.params.unwrap_or(i64::MAX) <= me.params.unwrap_or(i64::MAX),
        Objective::Macs => q.macs.unwrap_or(i64::MAX) <= me.macs.unwrap_or(i64::MAX),
        // Measured after training: unknown for a candidate about to train.
        Objective::Throughput | Objective::Latency => true,
    })
}

/// The held-out accuracy after `epoch` in a stored curve.
pub fn accuracy_at(curve: &str, epoch: usize) -> Option<f64> {
    let points: Vec<serde_json::Value> = serde_json::from_str(curve).ok()?;
    let point = points.iter().find(|p| p["epoch"].as_u64() == Some(epoch as u64))?;
    point.get("val_accuracy").or_else(|| point.get("test_accuracy"))?.as_f64()
}

/// Epochs a run trained and saved by stopping early.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Savings {
    pub stopped: usize,
    /// (rung epoch, candidates stopped there)
    pub by_rung: Vec<(usize, usize)>,
    pub epochs_trained: usize,
    pub epochs_saved: usize,
}

pub fn savings(records: &[Record], epochs: usize) -> Savings {
    let mut s = Savings::default();
    for r in records.iter().filter(|r| matches!(r.status, Status::Done | Status::Stopped)) {
        let at = r.stopped_at.map_or(epochs, |e| e as usize);
        s.epochs_trained += at;
        if r.status == Status::Stopped {
            s.stopped += 1;
            s.epochs_saved += epochs.saturating_sub(at);
            match s.by_rung.iter_mut().find(|(e, _)| *e == at) {
                Some((_, n)) => *n += 1,
                None => s.by_rung.push((at, 1)),
            }
        }
    }
    s.by_rung.sort();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: i64, params: i64, curve: &str) -> Record {
        let mut r = Record::new(id, None, "alpha", "m", String::new(), id.to_string(), "{}".into());
        (r.status, r.params, r.macs, r.curve) = (Status::Done, Some(params), Some(params * 10), Some(curve.into()));
        r
    }

    const GOOD: &str = r#"[{"epoch":1,"val_accuracy":0.8},{"epoch":2,"val_accuracy":0.85},{"epoch":3,"val_accuracy":0.9}]"#;

    #[test]
    fn bars_come_from_no_larger_candidates_at_the_same_epoch() {
        let es = EarlyStop::parse("1,2", 0.05, 3).unwrap();
        let pool = [rec(0, 100, GOOD), rec(1, 5000, r#"[{"epoch":1,"val_accuracy":0.95}]"#)];
        let me = rec(2, 1000, "[]");
        let bars = es.bars(&me, &pool, &[Objective::Params, Objective::Macs]);
        // Candidate 1 is larger, so it sets no bar; candidate 0 does, at both rungs.
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].epoch, 1);
        assert!((bars[0].min_accuracy - 0.75).abs() < 1e-12);
        assert!((bars[1].min_accuracy - 0.80).abs() < 1e-12);
        // Smaller than everyone: nobody dominates it, so nothing can stop it.
        assert!(es.bars(&rec(3, 10, "[]"), &pool, &[Objective::Params]).is_empty());
        // Accuracy alone: every earlier candidate counts.
        assert!((es.bars(&me, &pool, &[])[0].min_accuracy - 0.90).abs() < 1e-12);
        // A candidate never sets its own bar, and unfinished or failed ones set none.
        let mut failed = rec(4, 1, GOOD);
        failed.status = Status::Failed;
        assert!(es.bars(&pool[0], &[pool[0].clone(), failed], &[Objective::Params]).is_empty());
    }

    #[test]
    fn rung_flags_are_checked() {
        assert_eq!(EarlyStop::parse("1, 3", 0.02, 9).unwrap().rungs, vec![1, 3]);
        assert!(EarlyStop::parse("3,1", 0.02, 9).unwrap_err().to_string().contains("increasing"));
        assert!(EarlyStop::parse("0", 0.02, 9).unwrap_err().to_string().contains("increasing"));
        assert!(EarlyStop::parse("a", 0.02, 9).unwrap_err().to_string().contains("found `a`"));
        assert!(EarlyStop::parse("1,9", 0.02, 9).unwrap_err().to_string().contains("not before the last epoch (9)"));
        assert!(EarlyStop::parse("1", 2.0, 9).unwrap_err().to_string().contains("--stop-margin"));
    }

    #[test]
    fn savings_count_epochs_not_trained() {
        let mut a = rec(0, 1, GOOD);
        let mut b = rec(1, 1, GOOD);
        (b.status, b.stopped_at) = (Status::Stopped, Some(1));
        let mut c = rec(2, 1, GOOD);
        c.status = Status::Reused;
        a.stopped_at = None;
        let s = savings(&[a, b, c], 3);
        assert_eq!(s, Savings { stopped: 1, by_rung: vec![(1, 1)], epochs_trained: 4, epochs_saved: 2 });
    }

    #[test]
    fn curves_of_both_kinds_are_read() {
        assert_eq!(accuracy_at(GOOD, 2), Some(0.85));
        assert_eq!(accuracy_at(r#"[{"epoch":1,"test_accuracy":0.5}]"#, 1), Some(0.5));
        assert_eq!(accuracy_at(GOOD, 7), None);
        assert_eq!(accuracy_at("not json", 1), None);
    }
}
