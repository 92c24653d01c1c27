//! `nasc lsp`: a language server over stdio (lsp-server + lsp-types). It runs the same phases as
//! the CLI — parse, check, report, fill — so editors show the same codes and messages.

pub mod analysis;
mod position;
pub mod transport;

use crate::check::Stop;
use analysis::Analysis;
use crossbeam_channel::{Receiver, Sender, unbounded};
use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use lsp_types::{
    CodeActionParams, CompletionParams, DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams, DocumentDiagnosticParams,
    DocumentFormattingParams, DocumentSymbolParams, GotoDefinitionParams, HoverParams, Uri,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Wait this long after a change before checking, so a burst of keystrokes is checked once.
pub const DEBOUNCE: Duration = Duration::from_millis(25);

/// An analysis that takes longer than this stops and says so: a pathological file must not keep
/// a thread and a core busy forever.
pub const ANALYSIS_BUDGET: Duration = Duration::from_secs(10);

/// The checker's thread stack: deeply nested programs recurse deeply (as on the CLI).
const WORKER_STACK: usize = 256 << 20;

struct Doc {
    text: String,
    version: i32,
    /// When the newest change arrived, while its analysis has not been started.
    dirty_since: Option<Instant>,
    /// The started analysis's version and its cancel flag.
    running: Option<(i32, Arc<AtomicBool>)>,
    /// The analysis of `version`, once finished, and its diagnostics as JSON.
    analysis: Option<Analysis>,
    diagnostics: String,
    /// Requests about this document waiting for the analysis of `version`.
    waiting: Vec<Request>,
}

/// Work for an analysis thread, and what it hands back.
struct Job {
    key: String,
    uri: Uri,
    version: i32,
    text: String,
    cancel: Arc<AtomicBool>,
}

struct Done {
    key: String,
    version: i32,
    analysis: Analysis,
    /// Serialised here, on the analysis's thread, not on the one answering the editor.
    diagnostics: String,
}

struct Server {
    conn: Connection,
    docs: HashMap<String, (Uri, Doc)>,
    /// Each analysis runs on its own thread (a slow document must not hold up the others) and
    /// reports here.
    done_tx: Sender<Done>,
    done: Receiver<Done>,
}

pub fn run_stdio() -> Result<(), String> {
    let (conn, io) = transport::stdio();
    let caps = serde_json::json!({
        "positionEncoding": "utf-16",
        "textDocumentSync": 1,
        "hoverProvider": true,
        "definitionProvider": true,
        "documentSymbolProvider": true,
        "documentFormattingProvider": true,
        "codeActionProvider": true,
        "completionProvider": { "triggerCharacters": ["|", "(", ",", " "] },
        "diagnosticProvider": { "interFileDependencies": true, "workspaceDiagnostics": false },
    });
    conn.initialize(caps).map_err(|e| format!("LSP initialize failed: {e}"))?;
    let (done_tx, done) = unbounded::<Done>();
    let mut server = Server { conn, docs: HashMap::new(), done_tx, done };
    server.main_loop()?;
    drop(server);
    io.join()
}

/// One analysis, stopped early when cancelled (a newer version arrived) or over budget.
fn analyse(job: Job, done: &Sender<Done>) {
    let stop = Stop { cancel: Some(&job.cancel), deadline: Some(Instant::now() + ANALYSIS_BUDGET) };
    let analysis = Analysis::guarded_until(&job.uri, &job.text, stop);
    if job.cancel.load(Ordering::Relaxed) {
        return;
    }
    let run = std::panic::AssertUnwindSafe(|| analysis.lsp_diagnostics_json());
    let diagnostics = std::panic::catch_unwind(run).unwrap_or_else(|_| "[]".into());
    let _ = done.send(Done { key: job.key, version: job.version, analysis, diagnostics });
}

impl Server {
    fn main_loop(&mut self) -> Result<(), String> {
        loop {
            let timeout = self.next_deadline().map_or(Duration::from_secs(3600), |d| d.saturating_duration_since(Instant::now()));
            crossbeam_channel::select! {
                recv(self.conn.receiver) -> m => match m {
                    Ok(Message::Request(req)) => {
                        if self.conn.handle_shutdown(&req).map_err(|e| e.to_string())? {
                            return Ok(());
                        }
                        self.request_or_wait(req);
                    }
                    // `exit` after `shutdown` is consumed by `handle_shutdown`: one seen here
                    // came without it, which the protocol ends with exit code 1.
                    Ok(Message::Notification(n)) if n.method == "exit" => return Err("`exit` without a `shutdown` request first".into()),
                    Ok(Message::Notification(n)) => self.notification(n),
                    Ok(Message::Response(_)) => {}
                    Err(_) => return Ok(()),
                },
                recv(self.done) -> d => {
                    if let Ok(d) = d {
                        self.finished(d);
                    }
                }
                default(timeout) => {}
            }
            self.start_due();
        }
    }

    fn send(&self, m: Message) {
        let _ = self.conn.sender.send(m);
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.docs.values().filter_map(|(_, d)| d.dirty_since).min().map(|t| t + DEBOUNCE)
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            "textDocument/didOpen" => {
                if let Ok(p) = n.extract::<DidOpenTextDocumentParams>("textDocument/didOpen") {
                    let doc = Doc {
                        text: p.text_document.text,
                        version: p.text_document.version,
                        dirty_since: None,
                        running: None,
                        analysis: None,
                        diagnostics: String::new(),
                        waiting: Vec::new(),
                    };
                    let key = p.text_document.uri.as_str().to_string();
                    if let Some((_, old)) = self.docs.insert(key.clone(), (p.text_document.uri, doc)) {
                        self.retire(old);
                    }
                    // Opening is not typing: check at once.
                    self.start(&key);
                }
            }
            "textDocument/didChange" => {
                if let Ok(p) = n.extract::<DidChangeTextDocumentParams>("textDocument/didChange") {
                    let key = p.text_document.uri.as_str().to_string();
                    // Full sync: the last change holds the whole new text; the newest version wins.
                    if let (Some((_, doc)), Some(change)) = (self.docs.get_mut(&key), p.content_changes.into_iter().last())
                        && p.text_document.version >= doc.version
                    {
                        doc.text = change.text;
                        doc.version = p.text_document.version;
                        doc.dirty_since = Some(Instant::now());
                        doc.analysis = None;
                        // The running analysis is of an older text: stop it.
                        if let Some((_, cancel)) = doc.running.take() {
                            cancel.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
            "textDocument/didClose" => {
                if let Ok(p) = n.extract::<DidCloseTextDocumentParams>("textDocument/didClose") {
                    if let Some((_, old)) = self.docs.remove(p.text_document.uri.as_str()) {
                        self.retire(old);
                    }
                    let clear = serde_json::json!({ "uri": p.text_document.uri, "diagnostics": [] });
                    self.send(Message::Notification(Notification::new("textDocument/publishDiagnostics".into(), clear)));
                }
            }
            _ => {}
        }
    }

    /// A document that is gone: stop its analysis and answer what waited for it.
    fn retire(&self, doc: Doc) {
        if let Some((_, cancel)) = doc.running {
            cancel.store(true, Ordering::Relaxed);
        }
        for req in doc.waiting {
            self.send(Message::Response(Response::new_ok(req.id, serde_json::Value::Null)));
        }
    }

    /// Start the analyses whose debounce time has passed.
    fn start_due(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self.docs.iter().filter(|(_, (_, d))| d.dirty_since.is_some_and(|t| now >= t + DEBOUNCE)).map(|(k, _)| k.clone()).collect();
        for k in due {
            self.start(&k);
        }
    }

    /// Hand the document's current version to the analysis thread (unless already there).
    fn start(&mut self, key: &str) {
        let Some((uri, doc)) = self.docs.get_mut(key) else { return };
        doc.dirty_since = None;
        if doc.analysis.is_some() || doc.running.as_ref().is_some_and(|(v, _)| *v == doc.version) {
            return;
        }
        let cancel = Arc::new(AtomicBool::new(false));
        doc.running = Some((doc.version, cancel.clone()));
        let job = Job { key: key.to_string(), uri: uri.clone(), version: doc.version, text: doc.text.clone(), cancel };
        // The job goes to the thread through a channel, so it is still here if no thread can be
        // had: then it is analysed on this one (the result arrives as usual).
        let (give, take) = crossbeam_channel::bounded::<Job>(1);
        let _ = give.send(job);
        let (done, from_thread) = (self.done_tx.clone(), take.clone());
        let spawned = std::thread::Builder::new().name("nasc-analysis".into()).stack_size(WORKER_STACK).spawn(move || {
            if let Ok(job) = from_thread.recv() {
                analyse(job, &done);
            }
        });
        if spawned.is_err()
            && let Ok(job) = take.try_recv()
        {
            analyse(job, &self.done_tx);
        }
    }

    /// An analysis finished: keep and publish it if it is of the current version, then answer
    /// the requests that waited for it.
    fn finished(&mut self, d: Done) {
        let Some((uri, doc)) = self.docs.get_mut(&d.key) else { return };
        if d.version != doc.version {
            return;
        }
        doc.running = None;
        let uri = serde_json::to_string(uri).unwrap_or_else(|_| "\"\"".into());
        let params = format!(r#"{{"uri":{uri},"version":{},"diagnostics":{}}}"#, doc.version, d.diagnostics);
        doc.analysis = Some(d.analysis);
        doc.diagnostics = d.diagnostics;
        let waiting = std::mem::take(&mut doc.waiting);
        self.send(transport::raw_notification("textDocument/publishDiagnostics", &params));
        for req in waiting {
            let answer = self.request(req);
            self.send(answer);
        }
    }

    /// Answer now when the document's analysis is current; otherwise start it and answer when it
    /// is done. Only requests about that document wait.
    fn request_or_wait(&mut self, req: Request) {
        // The key as `with_doc` derives it: through `Uri`, which may normalise the text.
        let uri = req.params.pointer("/textDocument/uri").cloned().and_then(|u| serde_json::from_value::<Uri>(u).ok());
        let key = uri.map(|u| u.as_str().to_string());
        if let Some(key) = key.filter(|k| self.docs.get(k).is_some_and(|(_, d)| d.analysis.is_none())) {
            self.start(&key);
            if let Some((_, doc)) = self.docs.get_mut(&key) {
                doc.waiting.push(req);
                return;
            }
        }
        let answer = self.request(req);
        self.send(answer);
    }

    fn analysis(&self, key: &str) -> Option<&Analysis> {
        self.docs.get(key)?.1.analysis.as_ref()
    }

    /// The answer to `req`: a response, or for pulled diagnostics the serialised one.
    fn request(&mut self, req: Request) -> Message {
        let id = req.id.clone();
        let result = match req.method.as_str() {
            "textDocument/hover" => self.with_doc::<HoverParams>(req, |a, p| a.hover(p.text_document_position_params.position)),
            "textDocument/definition" => self.with_doc::<GotoDefinitionParams>(req, |a, p| a.definition(p.text_document_position_params.position)),
            "textDocument/documentSymbol" => self.with_doc::<DocumentSymbolParams>(req, |a, _| Some(a.symbols())),
            "textDocument/completion" => self.with_doc::<CompletionParams>(req, |a, p| Some(a.completion(p.text_document_position.position))),
            "textDocument/formatting" => self.with_doc::<DocumentFormattingParams>(req, |a, _| a.format()),
            "textDocument/codeAction" => self.with_doc::<CodeActionParams>(req, |a, p| Some(a.code_actions(p.range))),
            "textDocument/diagnostic" => return self.pulled_diagnostics(req),
            _ => return Message::Response(Response::new_err(id, lsp_server::ErrorCode::MethodNotFound as i32, format!("unsupported: {}", req.method))),
        };
        Message::Response(match result {
            Ok(v) => Response::new_ok(id, v.unwrap_or(serde_json::Value::Null)),
            Err(msg) => Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, msg),
        })
    }

    /// A `textDocument/diagnostic` request, answered with what was published for the document.
    fn pulled_diagnostics(&self, req: Request) -> Message {
        let id = req.id.clone();
        let p = match req.extract::<DocumentDiagnosticParams>("textDocument/diagnostic") {
            Ok((_, p)) => p,
            Err(e) => return Message::Response(Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, format!("bad params: {e:?}"))),
        };
        match self.docs.get(p.text_document.uri.as_str()) {
            Some((_, doc)) if doc.analysis.is_some() => transport::raw_response(&id, &format!(r#"{{"kind":"full","items":{}}}"#, doc.diagnostics)),
            _ => Message::Response(Response::new_ok(id, serde_json::Value::Null)),
        }
    }

    /// Parse the params, find the document they name, and answer from its analysis.
    fn with_doc<P: serde::de::DeserializeOwned + HasUri>(
        &mut self,
        req: Request,
        f: impl FnOnce(&Analysis, &P) -> Option<serde_json::Value>,
    ) -> Result<Option<serde_json::Value>, String> {
        let method = req.method.clone();
        let (_, p): (RequestId, P) = req.extract(&method).map_err(|e| format!("bad params: {e:?}"))?;
        let key = p.uri().as_str().to_string();
        let Some(a) = self.analysis(&key) else { return Ok(None) };
        // A bug in one feature must not take the server down with the user's unsaved work.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(a, &p)));
        out.map_err(|_| format!("internal error answering {method}"))
    }
}

/// Requests that name a document.
trait HasUri {
    fn uri(&self) -> &Uri;
}

macro_rules! has_uri {
    ($t:ty, $($field:ident).+) => {
        impl HasUri for $t {
            fn uri(&self) -> &Uri {
                &self.$($field).+
            }
        }
    };
}

has_uri!(HoverParams, text_document_position_params.text_document.uri);
has_uri!(GotoDefinitionParams, text_document_position_params.text_document.uri);
has_uri!(DocumentSymbolParams, text_document.uri);
has_uri!(CompletionParams, text_document_position.text_document.uri);
has_uri!(DocumentFormattingParams, text_document.uri);
has_uri!(CodeActionParams, text_document.uri);
has_uri!(DocumentDiagnosticParams, text_document.uri);
