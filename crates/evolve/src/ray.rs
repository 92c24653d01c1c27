//! Training candidates on a Ray cluster (issue 14): each candidate's training is one Ray job,
//! submitted over the Jobs REST API of the head's dashboard (`--ray-address
//! http://HOST:8265`). nasc is installed on every node — the job's entrypoint is
//! `NASC evolve-worker --job BASE64`, carrying the candidate's source, settings and seeds — and
//! the result comes back as the last JSON line of the job's logs, so the cluster needs no shared
//! file system.
//!
//! Submission ids are a function of the run, the candidate and the attempt
//! (`nasc-RUN-CANDIDATE-ATTEMPT`), so a controller that was killed finds its jobs again on
//! `--resume`: a running job is waited for, a finished one's result taken, and only missing
//! ones are submitted. A job that fails or is stopped is submitted again (a new attempt) up to
//! `retries` times; one that outlives `timeout` is stopped and recorded as failed. So is one that
//! succeeded on a node that died before its logs were read: the head cannot give them any more.
//! A head that cannot be reached ends the run with an error, leaving its candidates pending for
//! `--resume`.

use super::store::Outcome;
use super::worker::{Job, Verdict};
use super::{Error, TrainFailure};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How candidates reach the cluster; stored with the run, so `--resume` finds its jobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RaySettings {
    /// The dashboard's address, e.g. `http://127.0.0.1:8265`.
    pub address: String,
    /// The nasc executable on the cluster's nodes.
    pub nasc: String,
    /// This run's part of every submission id (random when the run starts).
    pub run_id: String,
    pub cpus: f64,
    pub gpus: f64,
    pub retries: usize,
    /// Stop a job after this many seconds and record the candidate as failed.
    pub timeout: Option<f64>,
}

impl RaySettings {
    pub fn submission_id(&self, candidate: i64, attempt: usize) -> String {
        format!("nasc-{}-{candidate}-{attempt}", self.run_id)
    }
}

/// The Jobs REST API.
pub struct Client {
    base: String,
}

/// A job as the head reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobInfo {
    pub status: String,
    pub message: String,
    pub node: Option<String>,
}

impl JobInfo {
    fn finished(&self) -> bool {
        matches!(self.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED")
    }
}

const TIMEOUT_SECS: u64 = 30;

impl Client {
    pub fn new(address: &str) -> Client {
        Client { base: address.trim_end_matches('/').to_string() }
    }

    fn send(&self, req: minreq::Request) -> Result<(i32, String), Error> {
        let resp = req.with_timeout(TIMEOUT_SECS).send().map_err(|e| Error::Ray(format!("the Ray head at {} cannot be reached: {e}", self.base)))?;
        Ok((resp.status_code, resp.as_str().unwrap_or_default().to_string()))
    }

    fn json(&self, req: minreq::Request, what: &str) -> Result<Option<Value>, Error> {
        match self.send(req)? {
            (404, _) => Ok(None),
            (200, body) => {
                serde_json::from_str(&body).map(Some).map_err(|e| Error::Ray(format!("{what}: the Ray head answered with something that is not JSON ({e})")))
            }
            (code, body) => Err(Error::Ray(format!("{what}: the Ray head answered {code}: {}", body.trim()))),
        }
    }

    /// The Ray version of the cluster; an error when the head cannot be reached.
    pub fn version(&self) -> Result<String, Error> {
        let v = self
            .json(minreq::get(format!("{}/api/version", self.base)), "version")?
            .ok_or_else(|| Error::Ray(format!("{} has no Ray Jobs API (is it the dashboard port, 8265?)", self.base)))?;
        Ok(v["ray_version"].as_str().unwrap_or("?").to_string())
    }

    pub fn submit(&self, id: &str, entrypoint: &str, cpus: f64, gpus: f64) -> Result<(), Error> {
        let body = json!({ "entrypoint": entrypoint, "submission_id": id, "entrypoint_num_cpus": cpus, "entrypoint_num_gpus": gpus, "metadata": { "by": "nasc evolve" } });
        let req = minreq::post(format!("{}/api/jobs/", self.base)).with_header("Content-Type", "application/json").with_body(body.to_string());
        self.json(req, "submit").map(|_| ())
    }

    /// The job's state; `None` when the head has no such job.
    pub fn status(&self, id: &str) -> Result<Option<JobInfo>, Error> {
        let v = self.json(minreq::get(format!("{}/api/jobs/{id}", self.base)), "status")?;
        Ok(v.map(|v| JobInfo {
            status: v["status"].as_str().unwrap_or("?").to_string(),
            message: v["message"].as_str().unwrap_or_default().to_string(),
            node: v["driver_node_id"].as_str().map(str::to_string),
        }))
    }

    /// The job's logs, or why the head, answering, cannot give them (`Ok(Err(..))`): they are
    /// kept on the node that ran the job, and a node that died took them with it (the head
    /// answers 500, failing to reach the node's agent).
    pub fn logs(&self, id: &str) -> Result<Result<String, String>, Error> {
        match self.send(minreq::get(format!("{}/api/jobs/{id}/logs", self.base)))? {
            (200, body) => {
                let v: Value =
                    serde_json::from_str(&body).map_err(|e| Error::Ray(format!("logs: the Ray head answered with something that is not JSON ({e})")))?;
                Ok(Ok(v["logs"].as_str().unwrap_or_default().to_string()))
            }
            (code, body) => Ok(Err(format!("the Ray head answered {code}: {}", body.trim().lines().last().unwrap_or_default()))),
        }
    }

    pub fn stop(&self, id: &str) -> Result<(), Error> {
        self.json(minreq::post(format!("{}/api/jobs/{id}/stop", self.base)), "stop").map(|_| ())
    }
}

/// The worker's command line for a job.
pub fn entrypoint(nasc: &str, job: &Job) -> String {
    let text = serde_json::to_string(job).unwrap_or_default();
    format!("{} evolve-worker --job {}", shell_quote(nasc), base64(text.as_bytes()))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Train candidate `id` as Ray jobs: find or submit its job, wait, retry failures.
pub fn train(cfg: &RaySettings, id: i64, job: &Job, poll: Duration) -> Verdict {
    let client = Client::new(&cfg.address);
    let command = entrypoint(&cfg.nasc, job);
    let mut last = String::new();
    for attempt in 0..=cfg.retries {
        // Training a front member again for its test accuracy is a job of its own, and so is
        // each full-fidelity retraining (named by candidate and seed, so a resumed finish finds it).
        let sid = match job.final_of {
            Some((candidate, k)) => format!("{}-final{k}", cfg.submission_id(candidate, attempt)),
            None => cfg.submission_id(id, attempt) + if job.measure_test { "-test" } else { "" },
        };
        let known = match client.status(&sid) {
            Ok(k) => k,
            Err(e) => return Verdict::Unreachable(e.to_string()),
        };
        match known {
            // An earlier controller's attempt that failed: go on with the next.
            Some(info) if info.status == "FAILED" || info.status == "STOPPED" => {
                last = describe(&info);
                continue;
            }
            Some(_) => {}
            None => {
                if let Err(e) = client.submit(&sid, &command, cfg.cpus, cfg.gpus) {
                    return Verdict::Unreachable(e.to_string());
                }
            }
        }
        match wait(&client, &sid, cfg.timeout, poll) {
            // The worker always ends with its result: logs without one (or none at all) were
            // cut off with the node that kept them, so the job is run again.
            Waited::Succeeded => match client.logs(&sid) {
                Ok(Ok(logs)) => match result_in(&logs) {
                    Some(result) => return Verdict::Result(result),
                    None => last = format!("succeeded, but its logs hold no result; their end: {}", tail(&logs)),
                },
                Ok(Err(why)) => last = format!("succeeded, but its logs are lost with its node ({why})"),
                Err(e) => return Verdict::Unreachable(e.to_string()),
            },
            Waited::Failed(why) => last = why,
            Waited::TimedOut(secs) => {
                let _ = client.stop(&sid);
                return Verdict::Result(Err(TrainFailure(format!("stopped after {secs:.0} s (--trial-timeout); Ray job {sid}"))));
            }
            Waited::Unreachable(e) => return Verdict::Unreachable(e),
        }
    }
    Verdict::Result(Err(TrainFailure(format!("the Ray job failed {} time(s); last: {last}", cfg.retries + 1))))
}

fn describe(info: &JobInfo) -> String {
    format!("{} ({})", info.status.to_lowercase(), info.message.trim())
}

enum Waited {
    Succeeded,
    Failed(String),
    TimedOut(f64),
    Unreachable(String),
}

fn wait(client: &Client, sid: &str, timeout: Option<f64>, poll: Duration) -> Waited {
    let start = Instant::now();
    loop {
        match client.status(sid) {
            Err(e) => return Waited::Unreachable(e.to_string()),
            Ok(None) => return Waited::Failed(format!("the head lost job {sid}")),
            Ok(Some(info)) if info.finished() => {
                return if info.status == "SUCCEEDED" { Waited::Succeeded } else { Waited::Failed(describe(&info)) };
            }
            Ok(Some(_)) => {}
        }
        let secs = start.elapsed().as_secs_f64();
        if timeout.is_some_and(|t| secs > t) {
            return Waited::TimedOut(secs);
        }
        std::thread::sleep(poll);
    }
}

/// The worker's result: the last line of the logs that is one; `None` when no line is.
pub fn result_in(logs: &str) -> Option<Result<Outcome, TrainFailure>> {
    logs.lines().rev().find_map(|l| serde_json::from_str::<Result<Outcome, TrainFailure>>(l.trim()).ok())
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().rev().take(3).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" / ")
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (the job travels in one shell word).
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn unbase64(s: &str) -> Result<Vec<u8>, TrainFailure> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.trim().bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).ok_or_else(|| TrainFailure(format!("`{}` is not base64", c as char)))? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xff) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "model M(x: [B, 8]) -> [B, 2] {\n    return x |> dense(2)\n}\n"] {
            assert_eq!(unbase64(&base64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert!(unbase64("a b").unwrap_err().0.contains("not base64"));
    }

    #[test]
    fn the_result_is_the_last_result_line_of_the_logs() {
        let ok = r#"{"Ok":{"accuracy":0.5,"curve":"[]","throughput":1.0,"train_seconds":2.0}}"#;
        let logs = format!("2026 INFO setting up\n{ok}\nRunning entrypoint for job x\n");
        assert_eq!(result_in(&logs).unwrap().unwrap().accuracy, 0.5);
        assert_eq!(result_in("{\"Err\":\"training diverged\"}\n").unwrap().unwrap_err().0, "training diverged");
        assert!(result_in("Traceback\nkilled\n").is_none());
        assert_eq!(tail("Traceback\nkilled\n"), "Traceback / killed");
    }

    fn job() -> Job {
        serde_json::from_value(json!({ "source": "", "data": "digits", "data_seed": 0, "seed": 0, "train": {
            "epochs": 1, "batch": 8, "lr": 0.001, "optimizer": "adam", "weight_decay": 0.0, "time_budget": null, "threads": 1 } }))
        .unwrap()
    }

    #[test]
    fn an_unreachable_head_is_one_clear_error() {
        // Nothing listens on port 9 (discard) here.
        let e = Client::new("http://127.0.0.1:9").version().unwrap_err().to_string();
        assert!(e.contains("the Ray head at http://127.0.0.1:9 cannot be reached"), "{e}");
        let cfg =
            RaySettings { address: "http://127.0.0.1:9".into(), nasc: "nasc".into(), run_id: "r".into(), cpus: 1.0, gpus: 0.0, retries: 1, timeout: None };
        let job = job();
        assert!(matches!(train(&cfg, 3, &job, Duration::from_millis(10)), Verdict::Unreachable(e) if e.contains("cannot be reached")));
        assert_eq!(cfg.submission_id(3, 1), "nasc-r-3-1");
        assert!(entrypoint("/opt/my nasc/nasc", &job).starts_with("'/opt/my nasc/nasc' evolve-worker --job "));
    }

    /// A head on a local port answering the Jobs API from `answer(method, path)`: (status, body).
    fn fake_head(answer: impl Fn(&str, &str) -> (u16, String) + Send + 'static) -> String {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let mut parts = line.split_whitespace();
                let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                let mut length = 0;
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                r.read_exact(&mut vec![0; length]).unwrap();
                let (code, body) = answer(&method, &path);
                let mut w = stream;
                write!(w, "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
            }
        });
        address
    }

    #[test]
    fn a_job_whose_logs_died_with_its_node_is_trained_again() {
        // Attempt 0's logs cannot be had (the head answers 500), attempt 1's were cut off before
        // the result; attempt 2 gives it.
        let submitted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = submitted.clone();
        let address = fake_head(move |method, path| match (method, path) {
            ("GET", "/api/jobs/nasc-r-3-0") => (200, r#"{"status": "SUCCEEDED", "message": ""}"#.into()),
            ("GET", "/api/jobs/nasc-r-3-0/logs") => (500, "Traceback ...\nClientConnectorError: Cannot connect to host 192.0.2.2:6403".into()),
            ("GET", "/api/jobs/nasc-r-3-1") if seen.lock().unwrap().is_empty() => (404, String::new()),
            ("GET", "/api/jobs/nasc-r-3-2") if seen.lock().unwrap().len() < 2 => (404, String::new()),
            ("POST", "/api/jobs/") => {
                let mut seen = seen.lock().unwrap();
                let next = ["nasc-r-3-1", "nasc-r-3-2"][seen.len().min(1)];
                seen.push(next);
                (200, "{}".into())
            }
            ("GET", "/api/jobs/nasc-r-3-1" | "/api/jobs/nasc-r-3-2") => (200, r#"{"status": "SUCCEEDED", "message": ""}"#.into()),
            ("GET", "/api/jobs/nasc-r-3-1/logs") => (200, json!({ "logs": "INFO job_manager.py:581 -- Runtime env is setting up." }).to_string()),
            ("GET", "/api/jobs/nasc-r-3-2/logs") => {
                (200, json!({ "logs": r#"{"Ok":{"accuracy":0.75,"curve":"[]","throughput":1.0,"train_seconds":2.0}}"# }).to_string())
            }
            _ => (404, String::new()),
        });
        let cfg = RaySettings { address, nasc: "nasc".into(), run_id: "r".into(), cpus: 1.0, gpus: 0.0, retries: 2, timeout: None };
        let job = job();
        match train(&cfg, 3, &job, Duration::from_millis(10)) {
            Verdict::Result(Ok(outcome)) => assert_eq!(outcome.accuracy, 0.75),
            Verdict::Result(Err(e)) => panic!("failed: {}", e.0),
            Verdict::Unreachable(e) => panic!("unreachable: {e}"),
        }
        assert_eq!(*submitted.lock().unwrap(), vec!["nasc-r-3-1", "nasc-r-3-2"]);
    }
}
