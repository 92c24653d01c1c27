//! What can go wrong with a store, each case with the message a user sees.

use std::path::PathBuf;

/// Why the store cannot be used. The messages say what to do.
#[derive(Debug)]
pub enum StoreError {
    /// `create` on a path that exists.
    Exists(PathBuf),
    /// A read-only open of a path that does not exist.
    Missing(PathBuf),
    CannotCreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    CannotOpen {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// Some other SQLite file, or not SQLite at all.
    NotAStore {
        path: PathBuf,
        why: String,
    },
    /// A nasc store whose pages SQLite finds damaged (a disk or copy error).
    Corrupt {
        path: PathBuf,
        why: String,
    },
    /// A row is missing before a later one.
    Damaged {
        missing: i64,
        next: i64,
    },
    /// A store without the run's settings row.
    NoSettings,
    /// Another live `nasc` process holds the store.
    Busy {
        pid: String,
    },
    Sqlite(rusqlite::Error),
}

/// SQLite's errors for a write the file system refused (full disk, quota, `ulimit -f`).
fn write_failed(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure))
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Exists(p) => write!(f, "`{}` already exists: continue it with `nasc evolve --resume {0}`, or choose another `--store`", p.display()),
            StoreError::Missing(p) => write!(f, "no store at `{}`", p.display()),
            StoreError::CannotCreateDir { dir, source } => write!(f, "cannot create `{}`: {source}", dir.display()),
            StoreError::CannotOpen { path, source } => write!(f, "cannot open the store `{}`: {source}", path.display()),
            StoreError::NotAStore { path, why } => write!(f, "`{}` is not a nasc store: {why}", path.display()),
            StoreError::Corrupt { path, why } => {
                write!(f, "the store `{}` is damaged ({why}): sqlite3's `.recover` can copy out what is readable; or start a new store", path.display())
            }
            StoreError::Damaged { missing, next } => {
                write!(f, "the store is damaged: candidate #{missing} is missing (the next row is #{next}); export what is there with `--export json`")
            }
            StoreError::Busy { pid } => write!(f, "another nasc process (pid {pid}) is running this store; wait for it, or stop it first"),
            StoreError::NoSettings => write!(f, "this database has no nasc run settings"),
            StoreError::Sqlite(e) if write_failed(e) => {
                write!(f, "cannot write the store: the disk is full or a file-size limit was reached ({e}); free space, then `--resume`")
            }
            StoreError::Sqlite(e) => write!(f, "store: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite(e)
    }
}

/// The command line reports errors as text.
impl From<StoreError> for String {
    fn from(e: StoreError) -> String {
        e.to_string()
    }
}
