//! The run's store: an SQLite database (WAL journal) holding the run's settings and every
//! candidate. A candidate is written in one transaction when it is created (before training)
//! and updated in another when its training ends, so a killed run loses at most the trainings
//! in flight, which `--resume` redoes.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;

#[path = "store_error.rs"]
mod error;
pub use error::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created; its training has not finished.
    Pending,
    /// Trained and evaluated.
    Done,
    /// Training failed (divergence, error, crash): recorded, the run goes on.
    Failed,
    /// The mutation failed or changed nothing: recorded, not trained.
    Skipped,
    /// Same fingerprint as an earlier candidate: its metrics are reused.
    Reused,
    /// Trained and evaluated, but stopped at an early-stopping rung (`stopped_at`).
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Reused => "reused",
            Status::Stopped => "stopped",
        }
    }
    fn parse(s: &str) -> Status {
        match s {
            "done" => Status::Done,
            "failed" => Status::Failed,
            "skipped" => Status::Skipped,
            "reused" => Status::Reused,
            "stopped" => Status::Stopped,
            _ => Status::Pending,
        }
    }
    /// Has metrics a parent can be selected on.
    pub fn evaluated(self) -> bool {
        matches!(self, Status::Done | Status::Reused | Status::Stopped)
    }
}

/// One candidate. Fields marked *timing* depend on the machine and load, not on the seed.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Record {
    pub id: i64,
    pub parent: Option<i64>,
    pub strategy: String,
    pub mutation: String,
    pub source: String,
    pub fingerprint: String,
    /// JSON: inferred, mutated and synthesized properties.
    pub properties: String,
    pub status: Status,
    /// Accuracy on the validation split (on the test split in runs without one); selection
    /// and the Pareto front use it.
    pub accuracy: Option<f64>,
    /// Accuracy on the test split, measured after training when the run has a validation
    /// split; reported for the final front only.
    pub test_accuracy: Option<f64>,
    /// The epoch after which early stopping ended the training.
    pub stopped_at: Option<i64>,
    /// Fingerprint of the architecture's canonical form (`nasc::rewrite`); equal forms train
    /// to the same network.
    pub canonical: Option<String>,
    pub params: Option<i64>,
    pub macs: Option<i64>,
    /// Per-epoch test accuracy and training loss (JSON).
    pub curve: Option<String>,
    pub reused_from: Option<i64>,
    pub error: Option<String>,
    pub seed: i64,
    /// Timing: median training images/s.
    pub throughput: Option<f64>,
    /// Timing: training seconds.
    pub train_seconds: Option<f64>,
    /// Timing: seconds spent evaluating on the validation (or test) split, all epochs together.
    pub eval_seconds: Option<f64>,
    /// Parameters that started from the parent's trained weights (`--inherit`).
    pub inherited: Option<i64>,
    /// Timing: batch-1 latency of the trained model compiled to native code (`--objectives
    /// latency`), median in ms.
    pub latency_ms: Option<f64>,
    /// Timing: UNIX seconds when a worker started on the candidate's training.
    pub started_at: Option<f64>,
    /// Timing: select + mutate + synthesize + store, in ms.
    pub controller_ms: Option<f64>,
    /// Timing: UNIX seconds.
    pub created_at: f64,
    pub finished_at: Option<f64>,
}

impl Record {
    /// A pending candidate created now, with nothing measured yet.
    pub fn new(id: i64, parent: Option<i64>, strategy: &str, mutation: &str, source: String, fingerprint: String, properties: String) -> Record {
        Record {
            id,
            parent,
            strategy: strategy.into(),
            mutation: mutation.into(),
            source,
            fingerprint,
            properties,
            status: Status::Pending,
            accuracy: None,
            test_accuracy: None,
            stopped_at: None,
            canonical: None,
            params: None,
            macs: None,
            curve: None,
            reused_from: None,
            error: None,
            seed: 0,
            throughput: None,
            latency_ms: None,
            train_seconds: None,
            eval_seconds: None,
            inherited: None,
            started_at: None,
            controller_ms: None,
            created_at: now(),
            finished_at: None,
        }
    }
}

/// What training reports for a candidate.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Outcome {
    pub accuracy: f64,
    /// Test accuracy when `accuracy` is a validation accuracy (workers from before the
    /// validation split send none).
    #[serde(default)]
    pub test_accuracy: Option<f64>,
    /// The epoch after which an early-stopping rung ended the training.
    #[serde(default)]
    pub stopped_at: Option<usize>,
    pub curve: String,
    pub throughput: f64,
    pub train_seconds: f64,
    /// Timing: UNIX seconds when the worker started on the job (workers from before send none).
    #[serde(default)]
    pub started_at: Option<f64>,
    /// Timing: batch-1 latency of the compiled model in ms, when the job asked for it.
    #[serde(default)]
    pub latency_ms: Option<f64>,
    /// Timing: seconds of evaluation on the validation (or test) split, all epochs together.
    #[serde(default)]
    pub eval_seconds: Option<f64>,
    /// Parameters that started from the parent's trained weights (`--inherit`).
    #[serde(default)]
    pub inherited: Option<i64>,
}

impl Outcome {
    pub fn status(&self) -> Status {
        if self.stopped_at.is_some() { Status::Stopped } else { Status::Done }
    }
}

/// One full-fidelity retraining of a candidate at the end of a run (`--final-epochs`): the
/// `k`-th of `--final-seeds`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Final {
    pub id: i64,
    pub k: i64,
    /// Validation accuracy (test accuracy in runs without a validation split).
    pub accuracy: Option<f64>,
    pub test_accuracy: Option<f64>,
    /// Timing: training seconds.
    pub train_seconds: Option<f64>,
    pub error: Option<String>,
    /// Timing: UNIX seconds.
    pub finished_at: f64,
}

pub struct Store {
    conn: Connection,
}

/// Columns added after the first stores were written, in `all`'s order after `finished_at`.
const ADDED_COLUMNS: [(&str, &str); 7] = [
    ("test_accuracy", "REAL"),
    ("stopped_at", "INTEGER"),
    ("canonical", "TEXT"),
    ("started_at", "REAL"),
    ("latency_ms", "REAL"),
    ("eval_seconds", "REAL"),
    ("inherited", "INTEGER"),
];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS run (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY,
    parent INTEGER,
    strategy TEXT NOT NULL,
    mutation TEXT NOT NULL,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    properties TEXT NOT NULL,
    status TEXT NOT NULL,
    accuracy REAL,
    test_accuracy REAL,
    stopped_at INTEGER,
    canonical TEXT,
    started_at REAL,
    latency_ms REAL,
    eval_seconds REAL,
    inherited INTEGER,
    params INTEGER,
    macs INTEGER,
    curve TEXT,
    reused_from INTEGER,
    error TEXT,
    seed INTEGER NOT NULL,
    throughput REAL,
    train_seconds REAL,
    controller_ms REAL,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS candidates_fingerprint ON candidates(fingerprint);
CREATE TABLE IF NOT EXISTS finals (
    id INTEGER NOT NULL,
    k INTEGER NOT NULL,
    accuracy REAL,
    test_accuracy REAL,
    train_seconds REAL,
    error TEXT,
    finished_at REAL NOT NULL,
    PRIMARY KEY (id, k)
);
";

/// SQLite's `application_id` of a nasc store ("nasc"): a store is recognised before anything is
/// written, so pointing `--status` at someone else's database never changes it.
const APPLICATION_ID: i64 = 0x6E61_7363;

/// Whether `pid` is a live nasc process (Linux `/proc`; elsewhere never, so no lock).
fn process_alive(pid: &str) -> bool {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // A zombie (state Z) has exited.
    let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
    !cmd.is_empty() && String::from_utf8_lossy(&cmd).contains("nasc") && !zombie
}

pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Store {
    /// Create a new store; an existing file is an error (use `--resume`).
    pub fn create(path: &Path, settings_json: &str) -> Result<Store, StoreError> {
        if path.exists() {
            return Err(StoreError::Exists(path.to_path_buf()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CannotCreateDir { dir: dir.to_path_buf(), source })?;
        }
        let s = Store::connect(path)?;
        s.conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        s.conn.execute("INSERT INTO run (key, value) VALUES ('settings', ?1)", params![settings_json])?;
        Ok(s)
    }

    /// Open an existing store to continue it (verified read-only first).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_read_only(path)?;
        let s = Store::connect(path)?;
        s.conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        Ok(s)
    }

    /// Open an existing store without writing to it (`--status`, `--export`).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::CannotOpen { path: path.to_path_buf(), source })?;
        let s = Store { conn };
        s.check_pages(path)?;
        s.verify().map_err(|why| StoreError::NotAStore { path: path.to_path_buf(), why: why.to_string() })?;
        Ok(s)
    }

    /// SQLite's own check of a file that says it is ours: damaged pages are reported as such,
    /// not as whatever a query over them trips on first ("invalid utf-8 sequence").
    fn check_pages(&self, path: &Path) -> Result<(), StoreError> {
        let app: i64 = match self.conn.pragma_query_value(None, "application_id", |r| r.get(0)) {
            Ok(app) => app,
            // Not a database at all: `verify` says so.
            Err(_) => return Ok(()),
        };
        if app != APPLICATION_ID {
            return Ok(());
        }
        let first: Result<String, _> = self.conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0));
        match first {
            Ok(ok) if ok == "ok" => Ok(()),
            Ok(why) => Err(StoreError::Corrupt { path: path.to_path_buf(), why }),
            Err(e) => Err(StoreError::Corrupt { path: path.to_path_buf(), why: e.to_string() }),
        }
    }

    /// A nasc store: our application id, or (stores written before it was set) our two tables
    /// with the run's settings. `Err` says why not.
    fn verify(&self) -> Result<(), Box<dyn std::error::Error>> {
        let app: i64 = self.conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        if app != APPLICATION_ID && app != 0 {
            return Err(format!("its application id is {app:#x}").into());
        }
        let tables: Vec<String> = {
            let mut st = self.conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
            let names = st.query_map([], |r| r.get(0))?;
            names.collect::<Result<_, _>>()?
        };
        if !["run", "candidates"].iter().all(|t| tables.iter().any(|n| n == t)) {
            return Err("it has no `run` and `candidates` tables".into());
        }
        self.settings_json()?;
        Ok(())
    }

    /// The candidates' ids must be 0, 1, 2, …: a gap means rows were deleted by hand or lost.
    pub fn check_integrity(records: &[Record]) -> Result<(), StoreError> {
        match records.iter().enumerate().find(|(k, r)| r.id != *k as i64) {
            None => Ok(()),
            Some((k, r)) => Err(StoreError::Damaged { missing: k as i64, next: r.id }),
        }
    }

    fn connect(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::CannotOpen { path: path.to_path_buf(), source })?;
        let not_store = |e: rusqlite::Error| StoreError::NotAStore { path: path.to_path_buf(), why: e.to_string() };
        // WAL with synchronous=NORMAL: a committed transaction survives the process being killed.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(not_store)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(not_store)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(not_store)?;
        conn.execute_batch(SCHEMA).map_err(not_store)?;
        let store = Store { conn };
        // Stores from before the validation split or early stopping lack their columns.
        for (column, kind) in ADDED_COLUMNS {
            if !store.has_column(column)? {
                store.conn.execute_batch(&format!("ALTER TABLE candidates ADD COLUMN {column} {kind}"))?;
            }
        }
        Ok(store)
    }

    /// Mark this process as the one running the store. Fails while another live `nasc`
    /// process holds it; a holder that died (killed, crashed) is replaced.
    pub fn claim(&mut self) -> Result<(), StoreError> {
        let me = std::process::id().to_string();
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let owner: Option<String> = tx.query_row("SELECT value FROM run WHERE key = 'owner'", [], |r| r.get(0)).optional()?;
        if let Some(pid) = owner.filter(|p| *p != me && process_alive(p)) {
            return Err(StoreError::Busy { pid });
        }
        tx.execute("INSERT OR REPLACE INTO run (key, value) VALUES ('owner', ?1)", params![me])?;
        Ok(tx.commit()?)
    }

    /// Give up the claim (the run ended or stopped with an error).
    pub fn release(&mut self) {
        let _ = self.conn.execute("DELETE FROM run WHERE key = 'owner' AND value = ?1", params![std::process::id().to_string()]);
    }

    pub fn settings_json(&self) -> Result<String, StoreError> {
        self.conn.query_row("SELECT value FROM run WHERE key = 'settings'", [], |r| r.get(0)).optional()?.ok_or(StoreError::NoSettings)
    }

    /// Insert a new candidate (one transaction).
    pub fn insert(&mut self, r: &Record) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO candidates (id, parent, strategy, mutation, source, fingerprint, properties, status, accuracy,
             params, macs, curve, reused_from, error, seed, throughput, train_seconds, controller_ms, created_at, finished_at,
             test_accuracy, stopped_at, canonical, latency_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
            params![
                r.id,
                r.parent,
                r.strategy,
                r.mutation,
                r.source,
                r.fingerprint,
                r.properties,
                r.status.as_str(),
                r.accuracy,
                r.params,
                r.macs,
                r.curve,
                r.reused_from,
                r.error,
                r.seed,
                r.throughput,
                r.train_seconds,
                r.controller_ms,
                r.created_at,
                r.finished_at,
                r.test_accuracy,
                r.stopped_at,
                r.canonical,
                r.latency_ms
            ],
        )?;
        Ok(tx.commit()?)
    }

    /// Record the end of a candidate's training (one transaction).
    pub fn finish(&mut self, id: i64, result: &Result<Outcome, crate::TrainFailure>, at: f64) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        match result {
            Ok(o) => tx.execute(
                "UPDATE candidates SET status = ?8, accuracy = ?2, curve = ?3, throughput = ?4, train_seconds = ?5,
                 error = NULL, finished_at = ?6, test_accuracy = ?7, stopped_at = ?9, started_at = ?10, latency_ms = ?11, eval_seconds = ?12, inherited = ?13 WHERE id = ?1",
                params![
                    id,
                    o.accuracy,
                    o.curve,
                    o.throughput,
                    o.train_seconds,
                    at,
                    o.test_accuracy,
                    o.status().as_str(),
                    o.stopped_at.map(|e| e as i64),
                    o.started_at,
                    o.latency_ms,
                    o.eval_seconds,
                    o.inherited
                ],
            ),
            Err(e) => tx.execute("UPDATE candidates SET status = 'failed', error = ?2, finished_at = ?3 WHERE id = ?1", params![id, e.0, at]),
        }?;
        Ok(tx.commit()?)
    }

    /// Record a front member's test accuracy, measured after the run (one transaction).
    pub fn set_test_accuracy(&mut self, id: i64, test: Option<f64>, error: Option<&str>) -> Result<(), StoreError> {
        self.conn.execute("UPDATE candidates SET test_accuracy = ?2, error = ?3 WHERE id = ?1", params![id, test, error])?;
        Ok(())
    }

    /// Record one full-fidelity retraining (one transaction; a redone one replaces it).
    pub fn insert_final(&mut self, f: &Final) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO finals (id, k, accuracy, test_accuracy, train_seconds, error, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![f.id, f.k, f.accuracy, f.test_accuracy, f.train_seconds, f.error, f.finished_at],
        )?;
        Ok(())
    }

    /// Every full-fidelity retraining, by candidate and seed index (none in stores from before them).
    pub fn finals(&self) -> Result<Vec<Final>, StoreError> {
        let exists: bool = self.conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'finals'", [], |r| r.get::<_, i64>(0))? > 0;
        if !exists {
            return Ok(Vec::new());
        }
        let mut st = self.conn.prepare("SELECT id, k, accuracy, test_accuracy, train_seconds, error, finished_at FROM finals ORDER BY id, k")?;
        let rows = st.query_map([], |r| {
            Ok(Final {
                id: r.get(0)?,
                k: r.get(1)?,
                accuracy: r.get(2)?,
                test_accuracy: r.get(3)?,
                train_seconds: r.get(4)?,
                error: r.get(5)?,
                finished_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Replace the run's settings (`--finalize` with new final-training settings).
    pub fn set_settings(&mut self, settings_json: &str) -> Result<(), StoreError> {
        self.conn.execute("UPDATE run SET value = ?1 WHERE key = 'settings'", params![settings_json])?;
        Ok(())
    }

    fn has_column(&self, column: &str) -> Result<bool, StoreError> {
        let mut st = self.conn.prepare("SELECT name FROM pragma_table_info('candidates')")?;
        let names = st.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(names.iter().any(|n| n == column))
    }

    pub fn all(&self) -> Result<Vec<Record>, StoreError> {
        // A store opened read-only from before these columns existed reads them as NULL.
        let mut added = Vec::new();
        for (column, _) in ADDED_COLUMNS {
            added.push(if self.has_column(column)? { column } else { "NULL" });
        }
        let mut st = self.conn.prepare(&format!(
            "SELECT id, parent, strategy, mutation, source, fingerprint, properties, status, accuracy, params, macs, curve,
                 reused_from, error, seed, throughput, train_seconds, controller_ms, created_at, finished_at, {}
                 FROM candidates ORDER BY id",
            added.join(", ")
        ))?;
        let rows = st.query_map([], |r| {
            Ok(Record {
                id: r.get(0)?,
                parent: r.get(1)?,
                strategy: r.get(2)?,
                mutation: r.get(3)?,
                source: r.get(4)?,
                fingerprint: r.get(5)?,
                properties: r.get(6)?,
                status: Status::parse(&r.get::<_, String>(7)?),
                accuracy: r.get(8)?,
                params: r.get(9)?,
                macs: r.get(10)?,
                curve: r.get(11)?,
                reused_from: r.get(12)?,
                error: r.get(13)?,
                seed: r.get(14)?,
                throughput: r.get(15)?,
                train_seconds: r.get(16)?,
                controller_ms: r.get(17)?,
                created_at: r.get(18)?,
                test_accuracy: r.get(20)?,
                stopped_at: r.get(21)?,
                canonical: r.get(22)?,
                started_at: r.get(23)?,
                latency_ms: r.get(24)?,
                eval_seconds: r.get(25)?,
                inherited: r.get(26)?,
                finished_at: r.get(19)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
