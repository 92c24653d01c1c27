use super::*;

fn record(id: i64) -> Record {
    let source = "model M(x: [B, 2]) -> [B, 2] { return x }".to_string();
    Record { seed: -5, params: Some(0), macs: Some(0), ..Record::new(id, None, "alpha", "seed", source, "f".into(), "{}".into()) }
}

#[test]
fn insert_finish_reopen() {
    let dir = std::env::temp_dir().join(format!("nasc-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("s.sqlite");
    let mut s = Store::create(&path, "{\"x\":1}").unwrap();
    s.insert(&record(0)).unwrap();
    s.insert(&record(1)).unwrap();
    let o = Outcome {
        accuracy: 0.5,
        test_accuracy: Some(0.4),
        stopped_at: None,
        curve: "[]".into(),
        throughput: 10.0,
        train_seconds: 1.0,
        started_at: None,
        latency_ms: None,
        eval_seconds: None,
        inherited: None,
    };
    s.finish(0, &Ok(o), 2.0).unwrap();
    s.finish(1, &Err("diverged".into()), 3.0).unwrap();
    drop(s);
    let err = Store::create(&path, "{}").err().unwrap().to_string();
    assert!(err.contains("--resume"), "{err}");
    let s = Store::open(&path).unwrap();
    assert_eq!(s.settings_json().unwrap(), "{\"x\":1}");
    let all = s.all().unwrap();
    assert_eq!((all[0].status, all[0].accuracy, all[0].seed), (Status::Done, Some(0.5), -5));
    assert_eq!(all[0].test_accuracy, Some(0.4));
    assert_eq!((all[1].status, all[1].error.as_deref()), (Status::Failed, Some("diverged")));
    assert!(Store::insert(&mut Store::open(&path).unwrap(), &record(1)).is_err(), "ids are unique");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A store whose pages were damaged on disk says so, not "not a nasc store: invalid utf-8".
#[test]
fn a_damaged_store_is_called_damaged() {
    let dir = std::env::temp_dir().join(format!("nasc-store-damaged-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("s.sqlite");
    let mut s = Store::create(&path, "{\"x\":1}").unwrap();
    for id in 0..200 {
        s.insert(&record(id)).unwrap();
    }
    drop(s);
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    assert!(bytes.len() > 4 * page, "{} bytes", bytes.len());
    for b in &mut bytes[2 * page + 100..3 * page] {
        *b = 0xFF;
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = Store::open_read_only(&path).err().expect("refused").to_string();
    assert!(e.starts_with(&format!("the store `{}` is damaged (", path.display())) && e.contains(".recover"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn opening_something_else_is_an_error() {
    let dir = std::env::temp_dir().join(format!("nasc-store-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("not-a-db.sqlite");
    std::fs::write(&path, "hello, this is text").unwrap();
    let e = Store::open(&path).err().unwrap().to_string();
    assert!(e.contains("not a nasc store") || e.contains("cannot open"), "{e}");
    assert!(Store::open(&dir.join("missing.sqlite")).err().unwrap().to_string().contains("no store"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn someone_elses_database_is_refused_and_left_unchanged() {
    let dir = std::env::temp_dir().join(format!("nasc-store-foreign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("other.db");
    let _ = std::fs::remove_file(&path);
    Connection::open(&path).unwrap().execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine');").unwrap();
    let before = std::fs::read(&path).unwrap();
    for e in [Store::open_read_only(&path).err().unwrap(), Store::open(&path).err().unwrap()] {
        assert_eq!(e.to_string(), format!("`{}` is not a nasc store: it has no `run` and `candidates` tables", path.display()));
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file is not modified");
    let other = dir.join("app.db");
    let _ = std::fs::remove_file(&other);
    Connection::open(&other).unwrap().execute_batch("PRAGMA application_id = 5; CREATE TABLE t (x);").unwrap();
    let e = Store::open_read_only(&other).err().unwrap().to_string();
    assert_eq!(e, format!("`{}` is not a nasc store: its application id is 0x5", other.display()));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stores_from_before_the_application_id_still_open() {
    let dir = std::env::temp_dir().join(format!("nasc-store-old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("old.sqlite");
    let s = Store::create(&path, "{}").unwrap();
    s.conn.pragma_update(None, "application_id", 0).unwrap();
    drop(s);
    assert!(Store::open_read_only(&path).is_ok());
    assert!(Store::open(&path).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stores_from_before_the_validation_split_read_and_resume() {
    let dir = std::env::temp_dir().join(format!("nasc-store-noval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("old.sqlite");
    let mut s = Store::create(&path, "{}").unwrap();
    s.insert(&record(0)).unwrap();
    // The schema as it was: no test accuracy or early-stopping column.
    s.conn.execute_batch("ALTER TABLE candidates DROP COLUMN test_accuracy; ALTER TABLE candidates DROP COLUMN stopped_at").unwrap();
    drop(s);
    let old = Store::open_read_only(&path).unwrap().all().unwrap();
    assert_eq!((old.len(), old[0].test_accuracy, old[0].stopped_at), (1, None, None));
    let mut s = Store::open(&path).unwrap();
    let o = Outcome {
        accuracy: 0.9,
        test_accuracy: Some(0.8),
        stopped_at: Some(1),
        curve: "[]".into(),
        throughput: 1.0,
        train_seconds: 1.0,
        started_at: None,
        latency_ms: None,
        eval_seconds: None,
        inherited: None,
    };
    s.finish(0, &Ok(o), 1.0).unwrap();
    let now = &s.all().unwrap()[0];
    assert_eq!((now.test_accuracy, now.stopped_at, now.status), (Some(0.8), Some(1), Status::Stopped));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_gap_in_the_ids_is_reported() {
    let e = Store::check_integrity(&[record(0), record(2)]).unwrap_err().to_string();
    assert!(e.starts_with("the store is damaged: candidate #1 is missing (the next row is #2)"), "{e}");
    assert!(Store::check_integrity(&[record(0), record(1)]).is_ok());
}
