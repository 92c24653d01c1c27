//! nasc-evolve — evolutionary architecture search (αNAS and its baselines): mutation, selection,
//! the crash-safe candidate store, workers and reports; and the atomic file writes the command
//! line shares. Built on nasc-core (programs, properties, synthesis) and nasc-burn (training).
//!
//! `nasc evolve`: property-guided evolutionary search (paper §5, appendix B.3), crash-safe and
//! reproducible.
//!
//! Candidate k is created from the candidates that finished before it *by id*, never by time:
//! its parent is selected among candidates `0 .. max(1, k+1-window)`, all of which must be
//! finished first, and every random choice for it comes from an RNG seeded by (run seed, k).
//! With `--window 1` this is the paper's strictly sequential loop; a larger window lets
//! `--jobs` candidates train at once, and the store is the same for any `--jobs`. Candidates
//! are written to the store when created and again when their training ends, so a killed run
//! resumes exactly (trainings in flight are redone from scratch with the same seed).

pub mod calls;
pub mod compare;
pub mod early_stop;
pub mod equiv;
pub mod error;
pub mod export;
pub use nasc_core::files;
mod finish;
pub mod guidance;
pub mod inherit;
pub mod junction;
pub mod mutate;
pub mod ray;
pub mod report;
pub mod select;
pub mod source;
pub mod specialise;
pub mod store;
pub mod worker;

pub use error::{Error, NoEdit, TrainFailure};
use mutate::{MutationConfig, Strategy, mutate};
use nasc_core::rng::Rng;
use nasc_core::syntax::print_file;
use select::{Individual, SelectionConfig, select_parent};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Instant;
use store::{Final, Outcome, Record, Status, Store, now};
pub use worker::{Evaluator, Job, Verdict, request_stop};

/// Everything that determines a run; stored in the run's database, so `--resume` needs nothing else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The seed file, as given (for reports).
    pub file: String,
    /// The seed architecture as one self-contained `.nas` text.
    pub seed_source: String,
    /// `digits`, `mnist:DIR`, `fashion:DIR` or `cifar10:DIR` (directories made absolute).
    pub data: String,
    pub trials: usize,
    pub seed: u64,
    pub strategy: Strategy,
    /// A candidate's parent is chosen among candidates at least this many ids older.
    pub window: usize,
    pub train: TrainSettings,
    /// Candidates with more parameters than this are recorded, not trained (`None`: no limit).
    #[serde(default)]
    pub max_params: Option<i64>,
    /// Candidates with more multiply-accumulates per image than this are recorded, not trained
    /// (`--max-macs`; `None`: no limit, as in stores from before it).
    #[serde(default)]
    pub max_macs: Option<i64>,
    pub mutation: MutationConfig,
    pub selection: SelectionConfig,
    /// Rungs at which a dominated candidate's training stops (`--rungs`); `None`: train every
    /// candidate for all its epochs.
    #[serde(default)]
    pub early_stop: Option<early_stop::EarlyStop>,
    /// Train on a Ray cluster (`--executor ray`); `None`: local worker processes.
    #[serde(default)]
    pub ray: Option<ray::RaySettings>,
    /// Learned guidance (`--guidance`); stores from before it have none.
    #[serde(default)]
    pub guidance: guidance::Settings,
    /// The full-fidelity finish (`--final-epochs`, `--final-seeds`); `None`: the final front's
    /// test accuracy comes from training each member again exactly as in the search.
    #[serde(default)]
    pub finish: Option<Finish>,
    /// Children start from their parent's trained weights where unchanged (`--inherit`).
    #[serde(default)]
    pub inherit: bool,
    /// Kept weights as safetensors instead of burn's record (`--weights-format safetensors`).
    #[serde(default)]
    pub weights_safetensors: bool,
}

/// How the seed and the final front are retrained at the end of a run: on every training image
/// outside the validation split (no subset, no time budget, no early stopping), `seeds` times
/// each; their mean test accuracy is what the front reports as `test`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finish {
    pub epochs: usize,
    pub seeds: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    /// Stored flat, as before the recipe was one type, so older stores still read.
    #[serde(flatten)]
    pub recipe: nasc_burn::train::Recipe,
    /// Stop a candidate's training after this many seconds (makes results timing-dependent).
    pub time_budget: Option<f64>,
    /// Compute threads per training.
    pub threads: usize,
    /// `cpu`, `cuda` or a `wgpu` device (stores written before this field existed trained on the CPU).
    #[serde(default = "cpu")]
    pub device: String,
    /// Train on a seeded stratified subset of this many training images (`--train-subset`).
    #[serde(default)]
    pub train_subset: Option<usize>,
    /// Stores from before `val_size`: the share of the training subset held out as the
    /// validation split; 0 (and no `val_size`) selects on the test split.
    #[serde(default)]
    pub val_fraction: f64,
    /// The validation split that selection and the front use (`--val-size`): this many images
    /// drawn from the whole training set before any subset, fixed for the run.
    #[serde(default)]
    pub val_size: Option<usize>,
}

fn cpu() -> String {
    "cpu".into()
}

/// Seed settings from a `.nas` file: flatten it (imports copied in) and check it.
pub fn seed_source(path: &Path) -> Result<String, Error> {
    let c = nasc_core::Compilation::load(path).map_err(|f| {
        let d = f.diagnostics.iter().find(|d| d.is_error());
        Error::Seed(format!("`{}` does not check: [{}] {} (run `nasc check {0}`)", path.display(), d.map_or("?", |d| d.code.as_str()), f.first_message()))
    })?;
    let prog = &c.program;
    if c.has_holes() {
        return Err(Error::Seed(format!("`{}` has holes: fill them first with `nasc build {0} --emit nas > filled.nas`", path.display())));
    }
    if prog.models().len() != 1 {
        return Err(Error::Seed(format!("`{}` must define exactly one `model` to evolve", path.display())));
    }
    let file = source::flatten(prog).ok_or_else(|| Error::Seed(format!("`{}` has no source", path.display())))?;
    Ok(print_file(&file))
}

/// A run in progress: the store and its candidates in id order.
pub struct Evolution {
    pub settings: Settings,
    store: Store,
    records: Vec<Record>,
    /// The full-fidelity retrainings done so far.
    finals: Vec<Final>,
    /// Where trained weights are kept for children to inherit (`<store>.weights/`).
    weights_dir: std::path::PathBuf,
    /// What guidance knows of each candidate's architecture, computed once (`None`: it does not check).
    profiles: HashMap<i64, Option<guidance::Profile>>,
}

/// What a run reports as it goes.
pub enum Event<'a> {
    Created(&'a Record),
    Finished(&'a Record),
    /// A front member's test accuracy was measured at the end of the run (with a full-fidelity
    /// finish: the mean over its final trainings, all done).
    Tested(&'a Record),
    /// One full-fidelity retraining ended.
    Final(&'a Final),
}

impl Evolution {
    pub fn start(path: &Path, settings: Settings) -> Result<Evolution, Error> {
        let json = serde_json::to_string_pretty(&settings).map_err(|e| Error::Setting(e.to_string()))?;
        let store = Store::create(path, &json)?;
        Ok(Evolution { settings, store, records: vec![], finals: vec![], weights_dir: inherit::weights_dir(path), profiles: HashMap::new() })
    }

    pub fn resume(path: &Path) -> Result<Evolution, Error> {
        let ev = Evolution::load(Store::open(path)?, path)?;
        Store::check_integrity(&ev.records)?;
        ev.settings
            .mutation
            .validate()
            .and_then(|_| ev.settings.selection.validate())
            .map_err(|e| Error::Setting(format!("`{}` holds settings out of range: {e}", path.display())))?;
        Ok(ev)
    }

    /// A run's store opened read-only, to report on it.
    pub fn inspect(path: &Path) -> Result<Evolution, Error> {
        Evolution::load(Store::open_read_only(path)?, path)
    }

    fn load(store: Store, path: &Path) -> Result<Evolution, Error> {
        let settings: Settings = serde_json::from_str(&store.settings_json()?)
            .map_err(|e| Error::Setting(format!("`{}` holds settings this nasc cannot read: {e}", path.display())))?;
        let records = store.all()?;
        let finals = store.finals()?;
        Ok(Evolution { settings, store, records, finals, weights_dir: inherit::weights_dir(path), profiles: HashMap::new() })
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    pub fn finals(&self) -> &[Final] {
        &self.finals
    }

    pub fn complete(&self) -> bool {
        self.records.len() >= self.settings.trials && self.records.iter().all(|r| r.status != Status::Pending)
    }

    /// The candidates a parent for candidate `k` is chosen from: `0 .. max(1, k+1-window)`.
    fn pool_end(&self, k: usize) -> usize {
        (k + 1).saturating_sub(self.settings.window.max(1)).max(1)
    }

    fn can_create(&self, k: usize) -> bool {
        k == 0 || self.records[..self.pool_end(k).min(self.records.len())].iter().all(|r| r.status != Status::Pending)
    }

    /// Run until every trial is recorded. `jobs` trainings run at once (subprocess evaluator).
    pub fn run(&mut self, jobs: usize, eval: &Evaluator, on_event: &mut dyn FnMut(&Evolution, Event)) -> Result<(), Error> {
        self.store.claim()?;
        let r = self.run_claimed(jobs, eval, on_event);
        self.store.release();
        r
    }

    fn run_claimed(&mut self, jobs: usize, eval: &Evaluator, on_event: &mut dyn FnMut(&Evolution, Event)) -> Result<(), Error> {
        if self.settings.inherit {
            std::fs::create_dir_all(&self.weights_dir).map_err(|e| Error::write(&self.weights_dir, e))?;
        }
        let (tx, rx) = std::sync::mpsc::channel::<(i64, Verdict)>();
        let mut queue: VecDeque<i64> = self.records.iter().filter(|r| r.status == Status::Pending).map(|r| r.id).collect();
        let mut running = 0usize;
        let jobs = if eval.parallel() { jobs.max(1) } else { 1 };
        loop {
            while running < jobs {
                if let Some(id) = queue.pop_front() {
                    let job = self.job(id);
                    eval.spawn(id, job, tx.clone());
                    running += 1;
                    continue;
                }
                let k = self.records.len();
                if k >= self.settings.trials || !self.can_create(k) {
                    break;
                }
                let rec = self.create(k)?;
                if rec.status == Status::Pending {
                    queue.push_back(rec.id);
                }
                self.records.push(rec);
                on_event(self, Event::Created(&self.records[k]));
            }
            if running == 0 {
                break;
            }
            let (id, verdict) = worker::next_verdict(&rx, running)?;
            let result = trained(verdict)?;
            running -= 1;
            let at = now();
            self.store.finish(id, &result, at)?;
            let r = &mut self.records[id as usize];
            match result {
                Ok(o) => {
                    (r.status, r.stopped_at) = (o.status(), o.stopped_at.map(|e| e as i64));
                    (r.accuracy, r.test_accuracy, r.curve) = (Some(o.accuracy), o.test_accuracy, Some(o.curve));
                    (r.throughput, r.train_seconds, r.started_at) = (Some(o.throughput), Some(o.train_seconds), o.started_at);
                    (r.latency_ms, r.eval_seconds, r.inherited) = (o.latency_ms, o.eval_seconds, o.inherited);
                }
                Err(e) => {
                    r.status = Status::Failed;
                    r.error = Some(e.0);
                }
            }
            r.finished_at = Some(at);
            if id == 0 && r.status == Status::Failed {
                return Err(Error::SeedFailed(r.error.clone().unwrap_or_default()));
            }
            on_event(self, Event::Finished(&self.records[id as usize]));
        }
        self.prune_weights();
        self.measure_front(jobs, eval, on_event)
    }

    fn job(&self, id: i64) -> Job {
        let r = &self.records[id as usize];
        Job {
            source: r.source.clone(),
            data: self.settings.data.clone(),
            data_seed: self.settings.seed,
            seed: r.seed as u64,
            train: self.settings.train.clone(),
            measure_test: false,
            measure_latency: self.settings.selection.objectives.contains(&select::Objective::Latency),
            rungs: match &self.settings.early_stop {
                Some(es) => es.bars(r, &self.records[..self.pool_end(id as usize)], &self.settings.selection.objectives),
                None => Vec::new(),
            },
            eval_epochs: self.settings.early_stop.as_ref().map_or(Vec::new(), |es| es.rungs.clone()),
            final_of: None,
            inherit: self.inheritance(r),
            save_weights: self.settings.inherit.then(|| inherit::weights_path(&self.weights_dir, id, self.settings.weights_safetensors)),
        }
    }

    /// What a child inherits from: its parent's weights, or those of the candidate the parent
    /// reused (the seed inherits nothing).
    fn inheritance(&self, r: &Record) -> Option<inherit::Inheritance> {
        let parent = &self.records[r.parent? as usize];
        let trained = parent.reused_from.unwrap_or(parent.id);
        let source = self.records[trained as usize].source.clone();
        self.settings
            .inherit
            .then(|| inherit::Inheritance { source, weights: inherit::weights_path(&self.weights_dir, trained, self.settings.weights_safetensors) })
    }

    /// Create candidate `k`: select a parent, mutate, and store it (before any training).
    fn create(&mut self, k: usize) -> Result<Record, Error> {
        let t0 = Instant::now();
        let mut rng = Rng::new(candidate_seed(self.settings.seed, k));
        let predictor = if k > 0 && self.settings.guidance.mode != guidance::Mode::Off { self.predictor(k) } else { None };
        let mut rec = if k == 0 {
            let seed = source::compile(&self.settings.seed_source).map_err(|f| Error::Program(format!("the seed does not check: {}", f.first_message())))?;
            let fp = seed.program.root_ast().map(source::fingerprint).unwrap_or_default();
            let mut rec = self.new_record(0, None, "seed", self.settings.seed_source.clone(), fp, "{}".into());
            rec.canonical = equiv::form(&rec.source).map(|f| f.fingerprint);
            rec
        } else {
            self.mutant(k, &mut rng, predictor.as_ref())?
        };
        rec.seed = rng.next_u64() as i64;
        if rec.status == Status::Pending || rec.status == Status::Reused {
            let profile = guidance::profile(&rec.source)?;
            let params = profile.params;
            (rec.params, rec.macs) = (Some(params), Some(profile.macs));
            let too_large = match (self.settings.max_params, self.settings.max_macs) {
                (Some(max), _) if params > max => Some(format!("{params} parameters, the limit is {max} (--max-params)")),
                (_, Some(max)) if profile.macs > max => Some(format!("{} MACs per image, the limit is {max} (--max-macs)", profile.macs)),
                _ => None,
            };
            if let Some(why) = too_large.filter(|_| k > 0) {
                rec.status = Status::Skipped;
                rec.error = Some(format!("too large to train: {why}"));
                (rec.accuracy, rec.curve, rec.throughput, rec.reused_from) = (None, None, None, None);
                rec.finished_at = Some(now());
            }
            if let Some(p) = &predictor
                && rec.status == Status::Pending
            {
                self.guide(&mut rec, p, &profile, k);
            }
            self.profiles.insert(rec.id, Some(profile));
        }
        rec.controller_ms = Some(t0.elapsed().as_secs_f64() * 1e3);
        self.store.insert(&rec)?;
        Ok(rec)
    }

    /// The accuracy model for candidate `k`, fitted on the trained candidates of its pool.
    fn predictor(&mut self, k: usize) -> Option<guidance::Predictor> {
        let (epoch, end) = (self.reference_epoch(), self.pool_end(k));
        let cache = &mut self.profiles;
        let profile = |r: &Record| cache.entry(r.id).or_insert_with(|| guidance::profile(&r.source).ok()).clone();
        guidance::fit_records(&self.records[..end], epoch, &self.settings.guidance, profile)
    }

    fn reference_epoch(&self) -> usize {
        guidance::reference_epoch(self.settings.train.recipe.epochs, self.settings.early_stop.as_ref())
    }

    /// Store the child's predicted accuracy; with `--guidance skip`, skip it when even the
    /// prediction plus z leave-one-out errors stays below a rival no larger than it.
    fn guide(&self, rec: &mut Record, p: &guidance::Predictor, profile: &guidance::Profile, k: usize) {
        let (epoch, g) = (self.reference_epoch(), &self.settings.guidance);
        let mut evidence = p.evidence(profile, g.z, epoch);
        let upper = p.upper(profile, g.z);
        let rival =
            g.mode.skips().then(|| guidance::dominated_by(rec, upper, &self.records[..self.pool_end(k)], epoch, &self.settings.selection.objectives)).flatten();
        if let Some((id, acc)) = rival {
            evidence["skipped_for"] = id.into();
            rec.status = Status::Skipped;
            rec.error = Some(format!(
                "predicted dominated (--guidance {}): accuracy after epoch {epoch} predicted {:.2} % ({} samples), at most {:.2} % within {} leave-one-out errors, below #{id}'s {:.2} % with no more params/MACs",
                g.mode.name(),
                p.predict(profile) * 100.0,
                p.samples,
                upper * 100.0,
                g.z,
                acc * 100.0
            ));
            rec.finished_at = Some(now());
        }
        let mut props: serde_json::Value = serde_json::from_str(&rec.properties).unwrap_or_else(|_| serde_json::json!({}));
        props["prediction"] = evidence;
        rec.properties = serde_json::to_string(&props).unwrap_or_default();
    }

    fn mutant(&self, k: usize, rng: &mut Rng, predictor: Option<&guidance::Predictor>) -> Result<Record, Error> {
        let pool = &self.records[..self.pool_end(k)];
        let pop: Vec<Individual> = pool
            .iter()
            .filter(|r| r.status.evaluated())
            .map(|r| Individual {
                id: r.id,
                accuracy: r.accuracy.unwrap_or(0.0),
                params: r.params.unwrap_or(0) as f64,
                macs: r.macs.unwrap_or(0) as f64,
                throughput: r.throughput.unwrap_or(0.0),
                latency: r.latency_ms.unwrap_or(f64::INFINITY),
            })
            .collect();
        // Nobody above the accuracy bar yet: mutate the seed, as the paper's first trials do.
        let parent_id = select_parent(&pop, &self.settings.selection, rng).unwrap_or(0);
        let parent = &self.records[parent_id as usize];
        let strategy = self.settings.strategy;
        let mut cfg = self.settings.mutation.clone();
        if self.settings.guidance.mode.orders_ops() {
            cfg.prior = predictor.map(|p| std::sync::Arc::new(p.prior()));
        }
        match mutate(&parent.source, strategy, &cfg, rng) {
            Ok(mut m) => {
                let form = equiv::form(&m.text);
                let exact = pool.iter().find(|r| r.fingerprint == m.fingerprint && r.status.evaluated());
                // Equal up to sound rewriting: the same trained network, so one training.
                let rewritten = form.as_ref().and_then(|f| pool.iter().find(|r| r.canonical.as_ref() == Some(&f.fingerprint) && r.status.evaluated()));
                let same = exact.or(rewritten);
                if exact.is_none()
                    && let (Some(f), Some(other)) = (&form, rewritten)
                    && let Some(of) = equiv::form(&other.source)
                {
                    m.properties["equivalent"] = equiv::evidence(f, other.id, &of);
                }
                let props = serde_json::to_string(&m.properties).unwrap_or_default();
                let mut rec = self.new_record(k, Some(parent_id), &m.description, m.text, m.fingerprint, props);
                rec.canonical = form.map(|f| f.fingerprint);
                if let Some(same) = same {
                    rec.status = Status::Reused;
                    rec.reused_from = Some(same.reused_from.unwrap_or(same.id));
                    (rec.accuracy, rec.test_accuracy, rec.curve, rec.throughput) = (same.accuracy, same.test_accuracy, same.curve.clone(), same.throughput);
                    rec.stopped_at = same.stopped_at;
                    rec.latency_ms = same.latency_ms;
                    rec.finished_at = Some(now());
                }
                Ok(rec)
            }
            Err(why) => {
                // Not trained; the source is the parent's, unchanged.
                let mut rec = self.new_record(k, Some(parent_id), "mutation failed", parent.source.clone(), parent.fingerprint.clone(), "{}".into());
                rec.status = Status::Skipped;
                rec.error = Some(why.0);
                rec.finished_at = Some(now());
                Ok(rec)
            }
        }
    }

    fn new_record(&self, id: usize, parent: Option<i64>, mutation: &str, source: String, fingerprint: String, properties: String) -> Record {
        Record::new(id as i64, parent, self.settings.strategy.name(), mutation, source, fingerprint, properties)
    }
}

/// A training's result; a cluster that cannot be asked ends the run (its candidates stay
/// pending, and `--resume` finds their jobs again).
fn trained(v: Verdict) -> Result<Result<Outcome, TrainFailure>, Error> {
    match v {
        Verdict::Result(r) => Ok(r),
        Verdict::Unreachable(e) => Err(Error::Stopped(format!(
            "{e}\nthe run stopped; candidates in flight stay pending (their Ray jobs keep running), and `nasc evolve --resume` takes them up"
        ))),
    }
}

/// The seed of candidate `k`'s RNG: a function of the run seed and k only.
pub fn candidate_seed(run_seed: u64, k: usize) -> u64 {
    let mut r = Rng::new(run_seed ^ 0xA1FA_0000_0000_0000);
    let base = r.next_u64();
    Rng::new(base.wrapping_add((k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))).next_u64()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
