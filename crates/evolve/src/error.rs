//! What can stop a search, and the two failures a search records and goes on from (a mutation
//! that found no edit, a training that failed). Messages say what to do.

use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Why a run (or a report, an export, a comparison) cannot go on.
#[derive(Debug)]
pub enum Error {
    Store(StoreError),
    /// The seed file cannot start a run: it does not check, has holes, or is not one model.
    Seed(String),
    /// A setting out of range: from the command line, `--set`, or a store's own settings.
    Setting(String),
    /// A program of the run (the seed, a stored candidate) does not compile here.
    Program(String),
    /// A file or directory beside the store cannot be written.
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The seed failed to train: the run has nothing to measure against.
    SeedFailed(String),
    /// The run stopped before its end (a signal, a vanished worker, an unreachable cluster);
    /// candidates in flight stay pending for `--resume`.
    Stopped(String),
    /// The Ray cluster refused a request or could not be asked.
    Ray(String),
    /// Stored evidence that does not hold up: a proof that does not replay, stores that cannot
    /// be compared.
    Evidence(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Store(e) => write!(f, "{e}"),
            Error::Write { path, source } => write!(f, "cannot write `{}`: {source}", path.display()),
            Error::SeedFailed(why) => write!(f, "the seed architecture failed to train: {why}"),
            Error::Seed(s) | Error::Setting(s) | Error::Program(s) | Error::Stopped(s) | Error::Ray(s) | Error::Evidence(s) => write!(f, "{s}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Store(e)
    }
}

/// The command line reports errors as text.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

impl Error {
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Write { path: path.into(), source }
    }
}

/// Why one candidate's training failed: recorded in the store as its error, and sent as text
/// between a worker process (or Ray job) and the run, so it stays plain text on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrainFailure(pub String);

/// A custom evaluator may use the search's own functions (sizes, profiles) with `?`.
impl From<Error> for TrainFailure {
    fn from(e: Error) -> TrainFailure {
        TrainFailure(e.to_string())
    }
}

/// Why no mutation could be made of a parent: recorded as the skipped candidate's error.
#[derive(Clone, Debug, PartialEq)]
pub struct NoEdit(pub String);

macro_rules! text_error {
    ($t:ident) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
        impl std::error::Error for $t {}
        impl From<String> for $t {
            fn from(s: String) -> $t {
                $t(s)
            }
        }
        impl From<&str> for $t {
            fn from(s: &str) -> $t {
                $t(s.to_string())
            }
        }
    };
}
text_error!(TrainFailure);
text_error!(NoEdit);
