//! The end of a run: the full-fidelity finish (the seed and the fronts retrained on every
//! training image outside the validation split, `--final-epochs`, `--final-seeds`, or
//! `--finalize` for a stored run), the front's test accuracy in runs without it, and the
//! trained weights kept once nothing can inherit them.

use super::store::{Final, now};
use super::{Error, Evaluator, Event, Evolution, Finish, Job, TrainSettings, Verdict, inherit, select, trained};
use nasc_core::rng::Rng;
use std::collections::{HashMap, VecDeque};

impl Evolution {
    /// Set (or change) the full-fidelity finish of a stored run, for `--finalize`.
    pub fn set_finish(&mut self, finish: Finish) -> Result<(), Error> {
        if finish.epochs == 0 || finish.seeds == 0 {
            return Err(Error::Setting("a full-fidelity finish needs at least one epoch and one seed".into()));
        }
        if self.settings.finish.as_ref() != Some(&finish) && !self.finals.is_empty() {
            return Err(Error::Setting(format!(
                "this run was already finished with {} epochs × {} seeds; its final accuracies would mix two settings",
                self.settings.finish.as_ref().map_or(0, |f| f.epochs),
                self.settings.finish.as_ref().map_or(0, |f| f.seeds)
            )));
        }
        self.settings.finish = Some(finish);
        let json = serde_json::to_string_pretty(&self.settings).map_err(|e| Error::Setting(e.to_string()))?;
        Ok(self.store.set_settings(&json)?)
    }

    /// Only the end of a run: the full-fidelity finish (or the front's test accuracies) of a
    /// run whose candidates are all recorded.
    pub fn finalize(&mut self, jobs: usize, eval: &Evaluator, on_event: &mut dyn FnMut(&Evolution, Event)) -> Result<(), Error> {
        if !self.complete() {
            return Err(Error::Setting(format!(
                "the run is not complete ({} of {} candidates recorded, or some pending): `nasc evolve --resume` first",
                self.records.len(),
                self.settings.trials
            )));
        }
        self.store.claim()?;
        let r = self.measure_front(jobs, eval, on_event);
        self.store.release();
        r
    }

    /// Once every candidate is recorded no child will inherit again: keep the trained weights
    /// of the seed and the fronts (see `finished_members`) only.
    pub(super) fn prune_weights(&self) {
        if !self.settings.inherit || !self.complete() {
            return;
        }
        let keep = self.finished_members();
        for r in &self.records {
            if !keep.contains(&r.id) {
                let _ = std::fs::remove_file(inherit::weights_path(&self.weights_dir, r.id, self.settings.weights_safetensors));
            }
        }
    }

    /// Test accuracy of the final front, and of it only (issue 15: selection never sees the
    /// test split). Weights are not kept, so each member is trained again with its own job;
    /// training is deterministic, so it is the same network, which its validation accuracy
    /// confirms. A run killed here redoes the members still without one on `--resume`.
    pub(super) fn measure_front(&mut self, jobs: usize, eval: &Evaluator, on_event: &mut dyn FnMut(&Evolution, Event)) -> Result<(), Error> {
        if let Some(finish) = self.settings.finish.clone() {
            return self.finish(&finish, jobs, eval, on_event);
        }
        if self.settings.train.val_fraction <= 0.0 && self.settings.train.val_size.is_none() {
            return Ok(());
        }
        let mut todo: VecDeque<i64> = select::pareto(&self.records).iter().filter(|r| r.test_accuracy.is_none()).map(|r| r.id).collect();
        let (tx, rx) = std::sync::mpsc::channel::<(i64, Verdict)>();
        let mut running = 0usize;
        loop {
            while running < jobs.max(1)
                && let Some(id) = todo.pop_front()
            {
                eval.spawn(id, Job { measure_test: true, ..self.job(id) }, tx.clone());
                running += 1;
            }
            if running == 0 {
                return Ok(());
            }
            let (id, verdict) = super::worker::next_verdict(&rx, running)?;
            let result = trained(verdict)?;
            running -= 1;
            let r = &mut self.records[id as usize];
            let note = match result {
                Ok(o) if o.accuracy == r.accuracy.unwrap_or(f64::NAN) => {
                    r.test_accuracy = o.test_accuracy;
                    None
                }
                Ok(o) => {
                    r.test_accuracy = o.test_accuracy;
                    Some(format!(
                        "trained again for its test accuracy, it reached validation accuracy {} instead of {:?}: training is not deterministic here",
                        o.accuracy, r.accuracy
                    ))
                }
                Err(e) => Some(format!("training again for the test accuracy failed: {e}")),
            };
            r.error = note.or(r.error.take());
            self.store.set_test_accuracy(id, r.test_accuracy, r.error.as_deref())?;
            on_event(self, Event::Tested(&self.records[id as usize]));
        }
    }

    /// The seed and every front member, retrained `seeds` times at full fidelity; each training
    /// is stored when it ends, so a killed run redoes only those in flight.
    fn finish(&mut self, finish: &Finish, jobs: usize, eval: &Evaluator, on_event: &mut dyn FnMut(&Evolution, Event)) -> Result<(), Error> {
        let members = self.finished_members();
        let done = |f: &[Final], id: i64, k: i64| f.iter().any(|x| x.id == id && x.k == k);
        let mut todo: VecDeque<(i64, i64)> =
            members.iter().flat_map(|&id| (0..finish.seeds as i64).map(move |k| (id, k))).filter(|&(id, k)| !done(&self.finals, id, k)).collect();
        let (tx, rx) = std::sync::mpsc::channel::<(i64, Verdict)>();
        let mut running: HashMap<i64, (i64, i64)> = HashMap::new();
        let mut ticket = 0i64;
        loop {
            while running.len() < jobs.max(1)
                && let Some((id, k)) = todo.pop_front()
            {
                eval.spawn(ticket, self.final_job(id, k, finish), tx.clone());
                running.insert(ticket, (id, k));
                ticket += 1;
            }
            if running.is_empty() {
                break;
            }
            let (t, verdict) = super::worker::next_verdict(&rx, running.len())?;
            let result = trained(verdict)?;
            let Some((id, k)) = running.remove(&t) else { continue };
            let f = match result {
                Ok(o) => Final {
                    id,
                    k,
                    accuracy: Some(o.accuracy),
                    test_accuracy: o.test_accuracy,
                    train_seconds: Some(o.train_seconds),
                    error: None,
                    finished_at: now(),
                },
                Err(e) => Final { id, k, accuracy: None, test_accuracy: None, train_seconds: None, error: Some(e.0), finished_at: now() },
            };
            self.store.insert_final(&f)?;
            self.finals.push(f);
            if let Some(f) = self.finals.last() {
                on_event(self, Event::Final(f));
            }
            let mine: Vec<&Final> = self.finals.iter().filter(|x| x.id == id).collect();
            let mine: Vec<f64> = if mine.len() == finish.seeds { mine.iter().filter_map(|x| x.test_accuracy).collect() } else { Vec::new() };
            if !mine.is_empty() {
                let mean = mine.iter().sum::<f64>() / mine.len() as f64;
                self.records[id as usize].test_accuracy = Some(mean);
                self.store.set_test_accuracy(id, Some(mean), self.records[id as usize].error.as_deref())?;
                on_event(self, Event::Tested(&self.records[id as usize]));
            }
        }
        self.finals.sort_by_key(|f| (f.id, f.k));
        Ok(())
    }

    /// What the finish retrains, by id: the seed, the accuracy-vs-params front and, when MACs
    /// are an objective, the accuracy-vs-MACs front.
    pub fn finished_members(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = select::pareto(&self.records).iter().map(|r| r.id).collect();
        if self.settings.selection.objectives.contains(&select::Objective::Macs) {
            ids.extend(select::pareto_by(&self.records, |r| r.macs.unwrap_or(0)).iter().map(|r| r.id));
        }
        if self.records.first().is_some_and(|r| r.status.evaluated()) {
            ids.push(0);
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Candidate `id`'s `k`-th full-fidelity training: every training image outside the
    /// validation split, `finish.epochs` epochs, a seed of its own, the test split measured.
    fn final_job(&self, id: i64, k: i64, finish: &Finish) -> Job {
        let base = self.job(id);
        let seed = Rng::new((self.records[id as usize].seed as u64) ^ 0xF1A1_0000 ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64();
        let mut train = TrainSettings { train_subset: None, time_budget: None, ..base.train.clone() };
        train.recipe.epochs = finish.epochs;
        Job { seed, train, measure_test: true, rungs: Vec::new(), measure_latency: false, inherit: None, save_weights: None, final_of: Some((id, k)), ..base }
    }
}
