//! `nasc lsp`: a language server over stdio (lsp-server + lsp-types). It runs the same phases as
//! the CLI — parse, check, report, fill — so editors show the same codes and messages.

pub mod analysis;
mod position;
pub mod transport;

use analysis::Analysis;
use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use lsp_types::{
    CodeActionParams, CompletionParams, DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DocumentDiagnosticParams, DocumentFormattingParams, DocumentSymbolParams, GotoDefinitionParams, HoverParams, Uri,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Wait this long after a change before checking, so a burst of keystrokes is checked once.
pub const DEBOUNCE: Duration = Duration::from_millis(25);

struct Doc {
    text: String,
    version: i32,
    /// When the newest change arrived and has not been published yet.
    dirty_since: Option<Instant>,
    analysis: Option<Analysis>,
}

struct Server {
    conn: Connection,
    docs: HashMap<String, (Uri, Doc)>,
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
    let mut server = Server { conn, docs: HashMap::new() };
    server.main_loop()?;
    drop(server);
    io.join()
}

impl Server {
    fn main_loop(&mut self) -> Result<(), String> {
        loop {
            let timeout = self.next_deadline().map_or(Duration::from_secs(3600), |d| d.saturating_duration_since(Instant::now()));
            match self.conn.receiver.recv_timeout(timeout) {
                Ok(Message::Request(req)) => {
                    if self.conn.handle_shutdown(&req).map_err(|e| e.to_string())? {
                        return Ok(());
                    }
                    self.flush_all();
                    let resp = self.request(req);
                    self.send(Message::Response(resp));
                }
                Ok(Message::Notification(n)) => self.notification(n),
                Ok(Message::Response(_)) => {}
                Err(crossbeam_timeout) => {
                    if crossbeam_timeout.is_disconnected() {
                        return Ok(());
                    }
                }
            }
            self.publish_due();
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
                    let doc = Doc { text: p.text_document.text, version: p.text_document.version, dirty_since: None, analysis: None };
                    let key = p.text_document.uri.as_str().to_string();
                    self.docs.insert(key.clone(), (p.text_document.uri, doc));
                    // Opening is not typing: check at once.
                    self.publish(&key);
                }
            }
            "textDocument/didChange" => {
                if let Ok(p) = n.extract::<DidChangeTextDocumentParams>("textDocument/didChange") {
                    let key = p.text_document.uri.as_str().to_string();
                    // Full sync: the last change holds the whole new text; the newest version wins.
                    if let (Some((_, doc)), Some(change)) = (self.docs.get_mut(&key), p.content_changes.into_iter().last()) {
                        if p.text_document.version >= doc.version {
                            doc.text = change.text;
                            doc.version = p.text_document.version;
                            doc.dirty_since = Some(Instant::now());
                            doc.analysis = None;
                        }
                    }
                }
            }
            "textDocument/didClose" => {
                if let Ok(p) = n.extract::<DidCloseTextDocumentParams>("textDocument/didClose") {
                    self.docs.remove(p.text_document.uri.as_str());
                    let clear = serde_json::json!({ "uri": p.text_document.uri, "diagnostics": [] });
                    self.send(Message::Notification(Notification::new("textDocument/publishDiagnostics".into(), clear)));
                }
            }
            _ => {}
        }
    }

    fn publish_due(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .docs
            .iter()
            .filter(|(_, (_, d))| d.dirty_since.is_some_and(|t| now >= t + DEBOUNCE))
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            self.publish(&k);
        }
    }

    /// Check every document with pending changes now (before answering a request about it).
    fn flush_all(&mut self) {
        let dirty: Vec<String> = self.docs.iter().filter(|(_, (_, d))| d.dirty_since.is_some()).map(|(k, _)| k.clone()).collect();
        for k in dirty {
            self.publish(&k);
        }
    }

    fn analysis(&mut self, key: &str) -> Option<&Analysis> {
        let (uri, doc) = self.docs.get_mut(key)?;
        if doc.analysis.is_none() {
            doc.analysis = Some(Analysis::guarded(uri, &doc.text));
        }
        doc.analysis.as_ref()
    }

    fn publish(&mut self, key: &str) {
        let Some((uri, doc)) = self.docs.get_mut(key) else { return };
        doc.dirty_since = None;
        let a = Analysis::guarded(uri, &doc.text);
        let diagnostics = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.lsp_diagnostics())).unwrap_or_default();
        let params = serde_json::json!({ "uri": uri, "version": doc.version, "diagnostics": diagnostics });
        doc.analysis = Some(a);
        self.send(Message::Notification(Notification::new("textDocument/publishDiagnostics".into(), params)));
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        let result = match req.method.as_str() {
            "textDocument/hover" => self.with_doc::<HoverParams>(req, |a, p| {
                a.hover(p.text_document_position_params.position)
            }),
            "textDocument/definition" => self.with_doc::<GotoDefinitionParams>(req, |a, p| {
                a.definition(p.text_document_position_params.position)
            }),
            "textDocument/documentSymbol" => self.with_doc::<DocumentSymbolParams>(req, |a, _| Some(a.symbols())),
            "textDocument/completion" => self.with_doc::<CompletionParams>(req, |a, p| Some(a.completion(p.text_document_position.position))),
            "textDocument/formatting" => self.with_doc::<DocumentFormattingParams>(req, |a, _| a.format()),
            "textDocument/codeAction" => self.with_doc::<CodeActionParams>(req, |a, p| Some(a.code_actions(p.range))),
            "textDocument/diagnostic" => self.with_doc::<DocumentDiagnosticParams>(req, |a, _| {
                Some(serde_json::json!({ "kind": "full", "items": a.lsp_diagnostics() }))
            }),
            _ => return Response::new_err(id, lsp_server::ErrorCode::MethodNotFound as i32, format!("unsupported: {}", req.method)),
        };
        match result {
            Ok(v) => Response::new_ok(id, v.unwrap_or(serde_json::Value::Null)),
            Err(msg) => Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, msg),
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
