//! `nasc lsp` spoken to over stdio with JSON-RPC, as an editor does.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    next_id: i64,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nasc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("nasc lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        len = v.parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&body)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        let mut c = Client { child, stdin, rx, next_id: 1 };
        let init = c.request("initialize", json!({ "capabilities": {}, "processId": null, "rootUri": null }));
        assert!(init["capabilities"]["hoverProvider"].as_bool().unwrap_or(false), "{init}");
        c.notify("initialized", json!({}));
        c
    }

    fn send(&mut self, v: Value) {
        let body = v.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let m = self.rx.recv_timeout(Duration::from_secs(20)).expect("a response");
            if m["id"] == id {
                return m["result"].clone();
            }
        }
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let m = self.rx.recv_timeout(Duration::from_secs(20)).expect("diagnostics are published");
            if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri {
                return m["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

const URI: &str = "file:///tmp/nasc-lsp-test/model.nas";
const BAD: &str =
    "model M(x: [B, 8, 8, 3]) -> [B, 8, 8, 16] {\n    let y = x |> conv(16, kernel: 3) |> max_pool(2)\n    return y + (x |> conv(16, kernel: 3))\n}\n";
const GOOD: &str = "model M(x: [B, 8, 8, 3]) -> [B, 8, 8, 16] {\n    let y = x |> conv(16, kernel: 3)\n    return y + (x |> conv(16, kernel: 3))\n}\n";

fn open(c: &mut Client, text: &str) {
    c.notify("textDocument/didOpen", json!({ "textDocument": { "uri": URI, "languageId": "nas", "version": 1, "text": text } }));
}

fn change(c: &mut Client, version: i64, text: &str) {
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": URI, "version": version }, "contentChanges": [{ "text": text }] }));
}

#[test]
fn diagnostics_follow_edits_and_hover_shows_shapes() {
    let mut c = Client::start();
    open(&mut c, BAD);
    let d = c.diagnostics(URI);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["code"], "E0301");
    assert_eq!(d[0]["range"], json!({ "start": { "line": 2, "character": 11 }, "end": { "line": 2, "character": 41 } }));
    assert!(d[0]["message"].as_str().unwrap_or("").starts_with("shape mismatch in `+`"));

    change(&mut c, 2, GOOD);
    assert!(c.diagnostics(URI).is_empty());

    let hover = c.request("textDocument/hover", json!({ "textDocument": { "uri": URI }, "position": { "line": 1, "character": 8 } }));
    assert_eq!(hover["contents"]["value"], "`y`: `[B, 8, 8, 16]`");

    // Cut off mid-token: diagnostics, and the server is still alive.
    change(&mut c, 3, "model M(x: [B, 8, 8, 3]) -> [B, 8, 8, 16] {\n    let y = x |> con");
    let d = c.diagnostics(URI);
    assert!(!d.is_empty());
    let syms = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": URI } }));
    assert!(syms.is_array());
    change(&mut c, 4, GOOD);
    assert!(c.diagnostics(URI).is_empty());
}

#[test]
fn pull_diagnostics_definition_completion_formatting_and_hole_action() {
    let mut c = Client::start();
    let text = "block Twice(x: [B, C]) -> [B, C] {\n    return x |> relu |> relu\n}\n\nmodel M(x: [B, 8]) -> [B, 8] {\n    let y = x |> Twice\n    return ?<depth >= 2>(y)\n}\n";
    open(&mut c, text);
    assert!(c.diagnostics(URI).is_empty());
    let pulled = c.request("textDocument/diagnostic", json!({ "textDocument": { "uri": URI } }));
    assert_eq!(pulled["kind"], "full");
    let def = c.request("textDocument/definition", json!({ "textDocument": { "uri": URI }, "position": { "line": 5, "character": 18 } }));
    assert_eq!(def["range"]["start"], json!({ "line": 0, "character": 6 }));
    let items = c.request("textDocument/completion", json!({ "textDocument": { "uri": URI }, "position": { "line": 5, "character": 18 } }));
    let labels: Vec<&str> = items.as_array().map(|a| a.iter().filter_map(|i| i["label"].as_str()).collect()).unwrap_or_default();
    assert!(labels.contains(&"conv") && labels.contains(&"Twice"), "{labels:?}");
    let hover = c.request("textDocument/hover", json!({ "textDocument": { "uri": URI }, "position": { "line": 5, "character": 18 } }));
    assert!(hover["contents"]["value"].as_str().unwrap_or("").contains("block Twice(x: [B, C]) -> [B, C]"), "{hover}");
    let actions = c.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": URI },
            "range": { "start": { "line": 6, "character": 12 }, "end": { "line": 6, "character": 12 } },
            "context": { "diagnostics": [] },
        }),
    );
    let title = actions[0]["title"].as_str().unwrap_or("");
    assert!(title.starts_with("Fill hole with `"), "{actions}");
    let edit = &actions[0]["edit"]["changes"][URI][0];
    assert!(edit["newText"].as_str().unwrap_or("").starts_with("y |> "), "{edit}");

    change(&mut c, 2, "model M(x:[B,8])->[B,8]{return x|>relu}\n");
    assert!(c.diagnostics(URI).is_empty());
    let edits = c.request("textDocument/formatting", json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 4, "insertSpaces": true } }));
    assert_eq!(edits[0]["newText"], "model M(x: [B, 8]) -> [B, 8] {\n    return x |> relu\n}\n");
}

/// Time from a change notification to the published diagnostics (reported, not asserted).
#[test]
fn change_to_diagnostics_latency() {
    let mut c = Client::start();
    let resnet = std::fs::read_to_string("examples/resnet50.nas").expect("example");
    let big = nasc::syntax::generate::large_program(5000);
    for (name, text) in [("resnet50.nas", resnet), ("5,000 lines", big)] {
        open(&mut c, &text);
        c.diagnostics(URI);
        let mut times = Vec::new();
        for v in 0..20 {
            let edited = format!("{text}// edit {v}\n");
            let t = Instant::now();
            change(&mut c, 10 + v, &edited);
            c.diagnostics(URI);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!("{name}: change → diagnostics median {:.1} ms, p95 {:.1} ms (debounce {} ms included)", times[10], times[18], nasc::lsp::DEBOUNCE.as_millis());
        c.notify("textDocument/didClose", json!({ "textDocument": { "uri": URI } }));
        c.diagnostics(URI);
    }
}

/// Each malformed frame is skipped (answered with an error when it has an id); the server lives
/// on and answers the next request.
#[test]
fn bad_frames_do_not_end_the_server() {
    let mut c = Client::start();
    open(&mut c, GOOD);
    assert!(c.diagnostics(URI).is_empty());
    let bad: Vec<Vec<u8>> = vec![
        b"Content-Length: 9\r\n\r\n{not json".to_vec(),
        b"no header at all\r\n\r\n".to_vec(),
        b"Content-Length: abc\r\n\r\n{}".to_vec(),
        b"Content-Length: 99999999999999\r\n\r\n".to_vec(),
        b"Content-Length: 4\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}".to_vec(),
        b"Content-Length: 4\r\n\r\n\xff\xfe\xfd\xfc".to_vec(),
        b"Content-Length: 6\r\n\r\n[1, 2]".to_vec(),
        b"Content-Length: 23\r\n\r\n{\"id\": 99, \"method\": 5}".to_vec(),
    ];
    for frame in bad {
        c.send_raw(&frame);
        let hover = c.request("textDocument/hover", json!({ "textDocument": { "uri": URI }, "position": { "line": 1, "character": 8 } }));
        assert_eq!(hover["contents"]["value"], "`y`: `[B, 8, 8, 16]`", "after {:?}", String::from_utf8_lossy(&frame));
    }
}

/// A document that is slow to check holds up neither requests about other documents nor their
/// diagnostics: each analysis runs on its own thread, and a newer version cancels an older one.
#[test]
fn a_slow_document_does_not_hold_up_the_others() {
    let mut c = Client::start();
    let slow_uri = "file:///tmp/nasc-lsp-test/slow.nas";
    let slow = std::fs::read_to_string("tests/fuzz-corpus/doubling_blocks.nas").expect("corpus file");
    c.notify("textDocument/didOpen", json!({ "textDocument": { "uri": slow_uri, "languageId": "nas", "version": 1, "text": slow } }));
    open(&mut c, GOOD);
    let id = c.next_id;
    c.next_id += 1;
    c.send(json!({ "jsonrpc": "2.0", "id": id, "method": "textDocument/hover",
        "params": { "textDocument": { "uri": URI }, "position": { "line": 1, "character": 8 } } }));
    let mut order = Vec::new();
    while order.len() < 3 {
        let m = c.rx.recv_timeout(Duration::from_secs(60)).expect("messages");
        if m["id"] == id {
            assert_eq!(m["result"]["contents"]["value"], "`y`: `[B, 8, 8, 16]`");
            order.push("hover");
        } else if m["method"] == "textDocument/publishDiagnostics" {
            order.push(if m["params"]["uri"] == slow_uri { "slow" } else { "good" });
        }
    }
    assert_eq!(order.last(), Some(&"slow"), "the slow document finished last: {order:?}");
    // Edits in a burst: only the newest version's diagnostics are published.
    for v in 2..6 {
        c.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": slow_uri, "version": v }, "contentChanges": [{ "text": format!("{slow}// {v}\n") }] }),
        );
    }
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": slow_uri, "version": 6 }, "contentChanges": [{ "text": GOOD }] }));
    loop {
        let m = c.rx.recv_timeout(Duration::from_secs(60)).expect("diagnostics");
        if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == slow_uri {
            assert_eq!(m["params"]["version"], 6, "stale versions are cancelled, not published");
            assert_eq!(m["params"]["diagnostics"], json!([]));
            break;
        }
    }
}

/// Every input that once crashed or hung nasc, opened in the editor: diagnostics come back and
/// the server answers the next request.
#[test]
fn hostile_files_get_diagnostics_and_the_server_lives_on() {
    let mut c = Client::start();
    let mut files: Vec<_> = std::fs::read_dir("tests/fuzz-corpus").expect("corpus").filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    for (v, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(f).expect("text");
        c.notify("textDocument/didOpen", json!({ "textDocument": { "uri": URI, "languageId": "nas", "version": v, "text": text } }));
        c.diagnostics(URI);
        let hover = c.request("textDocument/hover", json!({ "textDocument": { "uri": URI }, "position": { "line": 1, "character": 5 } }));
        assert!(hover.is_null() || hover["contents"].is_object(), "{}: {hover}", f.display());
    }
    open(&mut c, GOOD);
    assert!(c.diagnostics(URI).is_empty());
}

/// The protocol: `exit` after `shutdown` ends the server with 0, `exit` alone with 1.
#[test]
fn exit_codes_follow_the_protocol() {
    let wait = |c: &mut Client| {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = c.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(start.elapsed() < Duration::from_secs(20), "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut c = Client::start();
    c.request("shutdown", json!(null));
    c.notify("exit", json!(null));
    assert_eq!(wait(&mut c), Some(0));
    let mut c = Client::start();
    c.notify("exit", json!(null));
    assert_eq!(wait(&mut c), Some(1));
}
