//! The server's own stdio framing. lsp-server's reader ends the whole server on the first bad
//! frame (no header, bad or huge `Content-Length`, invalid UTF-8, JSON that is not a message) and
//! allocates whatever length a client announces. Here a bad frame is skipped — answered with an
//! error when it carries a request id — the stream is resynchronised on the next
//! `Content-Length:` header, and no message may be larger than `MAX_MESSAGE`.

use crossbeam_channel::{Receiver, Sender, bounded};
use lsp_server::{Connection, ErrorCode, Message, RequestId, Response};
use std::io::{BufRead, Read, Write};
use std::thread::JoinHandle;

/// The largest message accepted: a whole document is sent on every change, and 64 MiB is far
/// beyond any `.nas` file (the compiler reads at most 16 MiB from disk).
pub const MAX_MESSAGE: usize = 64 << 20;

/// The longest header line; LSP headers are short.
const MAX_HEADER_LINE: usize = 8 << 10;

const HEADER: &[u8] = b"Content-Length:";

/// What one read from the stream gave.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A well-framed body (not yet parsed).
    Body(Vec<u8>),
    /// A framing error; the stream was resynchronised past it.
    Bad(String),
    /// End of input.
    Eof,
}

/// Reads frames from a byte stream, resynchronising after a bad one.
pub struct FrameReader<R> {
    r: R,
    /// The last resync consumed a `Content-Length:`: the next line continues it.
    resumed: bool,
    /// A header found in the middle of a garbage line (after a body shorter than its JSON).
    carried: Option<String>,
}

impl<R: BufRead> FrameReader<R> {
    pub fn new(r: R) -> FrameReader<R> {
        FrameReader { r, resumed: false, carried: None }
    }

    /// Read one frame. Never allocates more than `MAX_MESSAGE` for a body.
    pub fn next_frame(&mut self) -> Frame {
        let mut length: Option<Result<usize, String>> = None;
        let mut saw_header = false;
        loop {
            let line = match self.carried.take().map(Some).map(Ok).unwrap_or_else(|| read_line(&mut self.r)) {
                Ok(Some(l)) if std::mem::take(&mut self.resumed) => format!("Content-Length:{l}"),
                Ok(Some(l)) => l,
                Ok(None) => return if saw_header { Frame::Bad("input ended inside a header".into()) } else { Frame::Eof },
                Err(e) => return self.skip_to_next_header(e),
            };
            if line.is_empty() {
                if !saw_header {
                    continue; // blank lines between frames
                }
                break;
            }
            saw_header = true;
            if let Some(rest) = line.strip_prefix("Content-Length:") {
                length = Some(parse_length(rest.trim()));
            } else if !is_header(&line) {
                let why = format!("not a header: `{}`", truncate(&line));
                if let Some(at) = line.find("Content-Length:") {
                    self.carried = Some(line[at..].to_string());
                    return Frame::Bad(why);
                }
                return self.skip_to_next_header(why);
            }
        }
        let n = match length {
            Some(Ok(n)) => n,
            Some(Err(e)) => return self.skip_to_next_header(e),
            None => return Frame::Bad("a frame without Content-Length".into()),
        };
        let mut body = Vec::with_capacity(n.min(1 << 20));
        match (&mut self.r).take(n as u64).read_to_end(&mut body) {
            Ok(got) if got == n => Frame::Body(body),
            _ => Frame::Bad(format!("input ended inside a {n}-byte body")),
        }
    }

    /// Drop input up to and including the next `Content-Length:` and report `why`.
    fn skip_to_next_header(&mut self, why: String) -> Frame {
        let mut matched = 0;
        loop {
            let buf = match self.r.fill_buf() {
                Ok([]) | Err(_) => return Frame::Bad(why),
                Ok(b) => b,
            };
            let mut used = buf.len();
            for (i, &b) in buf.iter().enumerate() {
                matched = if b == HEADER[matched] {
                    matched + 1
                } else if b == HEADER[0] {
                    1
                } else {
                    0
                };
                if matched == HEADER.len() {
                    used = i + 1;
                    break;
                }
            }
            self.r.consume(used);
            if matched == HEADER.len() {
                self.resumed = true;
                return Frame::Bad(why);
            }
        }
    }
}

/// `Name: value` with a token for a name, as HTTP-style headers are.
fn is_header(line: &str) -> bool {
    line.split_once(':').is_some_and(|(name, _)| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

fn parse_length(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n <= MAX_MESSAGE => Ok(n),
        Ok(n) => Err(format!("Content-Length {n} is over the {MAX_MESSAGE}-byte limit")),
        Err(_) => Err(format!("bad Content-Length `{}`", truncate(text))),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// One header line without its line ending; `Err` when it is too long or not text.
fn read_line(r: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut buf = Vec::new();
    let got = r.take(MAX_HEADER_LINE as u64 + 1).read_until(b'\n', &mut buf).map_err(|e| e.to_string())?;
    if got == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') && buf.len() > MAX_HEADER_LINE {
        return Err("a header line is too long".into());
    }
    let text = String::from_utf8(buf).map_err(|_| "a header is not UTF-8".to_string())?;
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
}

/// Parse a body into a message; on failure, the error response to send (if it had an id).
pub fn parse_body(body: &[u8]) -> Result<Message, (String, Option<Response>)> {
    let text = std::str::from_utf8(body).map_err(|_| ("a message body is not UTF-8".to_string(), None))?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| (format!("a message is not JSON: {e}"), None))?;
    let id = value.get("id").cloned().and_then(|id| serde_json::from_value::<RequestId>(id).ok());
    serde_json::from_value::<Message>(value).map_err(|e| {
        let why = format!("not an LSP message: {e}");
        let reply = id.map(|id| Response::new_err(id, ErrorCode::InvalidRequest as i32, why.clone()));
        (why, reply)
    })
}

/// The reader and writer threads of a stdio connection.
pub struct Io {
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

impl Io {
    pub fn join(self) -> Result<(), String> {
        self.reader.join().map_err(|_| "LSP reader thread failed".to_string())?;
        self.writer.join().map_err(|_| "LSP writer thread failed".to_string())
    }
}

/// A connection over stdin/stdout with the forgiving framing above.
pub fn stdio() -> (Connection, Io) {
    let (to_client, outgoing) = bounded::<Message>(16);
    let (incoming, from_client) = bounded::<Message>(16);
    let writer = std::thread::spawn(move || write_all(outgoing, std::io::stdout()));
    let replies = to_client.clone();
    let reader = std::thread::spawn(move || read_all(std::io::stdin().lock(), &incoming, &replies));
    (Connection { sender: to_client, receiver: from_client }, Io { reader, writer })
}

/// The method of a message serialised already (`raw_notification`, `raw_response`): its params
/// are the whole message's JSON, written as they are. Large diagnostics lists go this way, so
/// they are never rebuilt as `serde_json::Value` trees (whose allocations cost more than checking
/// the document).
const RAW: &str = "$/nasc/raw";

/// A notification whose `params` are JSON text already.
pub fn raw_notification(method: &str, params_json: &str) -> Message {
    let method = serde_json::to_string(method).unwrap_or_default();
    raw(format!(r#"{{"jsonrpc":"2.0","method":{method},"params":{params_json}}}"#))
}

/// A successful response whose `result` is JSON text already.
pub fn raw_response(id: &RequestId, result_json: &str) -> Message {
    let id = serde_json::to_string(id).unwrap_or_default();
    raw(format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result_json}}}"#))
}

fn raw(json: String) -> Message {
    Message::Notification(lsp_server::Notification { method: RAW.into(), params: serde_json::Value::String(json) })
}

fn write_message(m: &Message, out: &mut impl Write) -> std::io::Result<()> {
    match m {
        Message::Notification(n) if n.method == RAW => {
            let json = n.params.as_str().unwrap_or_default();
            write!(out, "Content-Length: {}\r\n\r\n{json}", json.len())
        }
        _ => m.write(out),
    }
}

fn write_all(outgoing: Receiver<Message>, out: impl Write) {
    let mut out = std::io::BufWriter::new(out);
    for m in outgoing {
        if write_message(&m, &mut out).and_then(|_| out.flush()).is_err() {
            return;
        }
    }
}

/// Forward every good message until `exit` or the end of input; log and skip bad frames.
pub fn read_all(r: impl BufRead, incoming: &Sender<Message>, replies: &Sender<Message>) {
    let mut frames = FrameReader::new(r);
    loop {
        let body = match frames.next_frame() {
            Frame::Eof => return,
            Frame::Bad(why) => {
                eprintln!("nasc lsp: skipped a bad frame: {why}");
                continue;
            }
            Frame::Body(b) => b,
        };
        match parse_body(&body) {
            Ok(m) => {
                let exit = matches!(&m, Message::Notification(n) if n.method == "exit");
                if incoming.send(m).is_err() || exit {
                    return;
                }
            }
            Err((why, reply)) => {
                eprintln!("nasc lsp: skipped a message: {why}");
                if let Some(r) = reply {
                    let _ = replies.send(Message::Response(r));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> Vec<Frame> {
        // A tiny buffer, so headers also straddle buffer ends.
        let mut r = FrameReader::new(std::io::BufReader::with_capacity(7, input));
        let mut out = Vec::new();
        loop {
            match r.next_frame() {
                Frame::Eof => return out,
                f => out.push(f),
            }
        }
    }

    fn framed(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[test]
    fn good_frames_in_a_row() {
        let input = framed("{\"a\":1}") + &framed("[]");
        assert_eq!(frames(input.as_bytes()), vec![Frame::Body(b"{\"a\":1}".to_vec()), Frame::Body(b"[]".to_vec())]);
    }

    #[test]
    fn bad_frames_are_skipped_and_the_next_one_is_read() {
        let good = framed("{}");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"garbage without headers\r\n\r\n".to_vec(), "not a header"),
            (b"Content-Length: abc\r\n\r\n{}".to_vec(), "bad Content-Length `abc`"),
            (b"Content-Length: 99999999999999\r\n\r\n".to_vec(), "over the"),
            (b"Content-Type: x\r\n\r\n".to_vec(), "without Content-Length"),
            (b"Content-Length: 4\r\n\r\n{\"jsonrpc\":\"2.0\"}".to_vec(), "not a header: `onrpc"),
        ];
        for (bad, why) in cases {
            let mut input = bad.clone();
            input.extend_from_slice(good.as_bytes());
            let got = frames(&input);
            assert!(got.iter().any(|f| matches!(f, Frame::Bad(w) if w.contains(why))), "{why}: {got:?}");
            assert_eq!(got.last(), Some(&Frame::Body(b"{}".to_vec())), "{why}: the next frame is read: {got:?}");
        }
    }

    /// Random bytes and damaged frames: reading always ends, never panics, and parsing what
    /// comes out never panics either.
    #[test]
    fn random_streams_end_without_panics() {
        let mut rng = crate::rng::Rng::new(17);
        let good = framed("{\"jsonrpc\":\"2.0\",\"method\":\"initialized\",\"params\":{}}");
        for _ in 0..2000 {
            let mut bytes: Vec<u8> = good.repeat(1 + rng.below(3)).into_bytes();
            for _ in 0..rng.below(12) {
                let i = rng.below(bytes.len());
                match rng.below(3) {
                    0 => bytes[i] = rng.below(256) as u8,
                    1 => {
                        let noise = b"Content-Length: \r\n:";
                        bytes.insert(i, noise[rng.below(noise.len())]);
                    }
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            let total = bytes.len();
            let mut r = FrameReader::new(std::io::BufReader::with_capacity(1 + rng.below(64), bytes.as_slice()));
            let mut reads = 0;
            loop {
                match r.next_frame() {
                    Frame::Eof => break,
                    Frame::Body(b) => {
                        let _ = parse_body(&b);
                    }
                    Frame::Bad(_) => {}
                }
                reads += 1;
                assert!(reads <= total + 1, "every read consumes input");
            }
        }
    }

    #[test]
    fn a_short_body_ends_the_stream_with_an_error() {
        assert_eq!(frames(b"Content-Length: 10\r\n\r\n{}"), vec![Frame::Bad("input ended inside a 10-byte body".into())]);
    }

    #[test]
    fn bodies_that_are_not_messages() {
        assert!(parse_body(b"\xff\xfe").unwrap_err().0.contains("not UTF-8"));
        assert!(parse_body(b"{oops").unwrap_err().0.contains("not JSON"));
        let (why, reply) = parse_body(b"[1, 2]").unwrap_err();
        assert!(why.contains("not an LSP message") && reply.is_none(), "{why}");
        let (_, reply) = parse_body(br#"{"id": 7, "method": 3}"#).unwrap_err();
        let reply = reply.expect("a request id gets an answer");
        assert_eq!(reply.id, RequestId::from(7));
        assert_eq!(reply.response_result.err().map(|e| e.code), Some(ErrorCode::InvalidRequest as i32));
        assert!(matches!(parse_body(br#"{"method": "initialized", "params": {}}"#), Ok(Message::Notification(_))));
    }

    #[test]
    fn serialised_messages_are_written_as_ordinary_frames() {
        let mut out = Vec::new();
        write_message(&raw_notification("textDocument/publishDiagnostics", r#"{"uri":"file:///a.nas","diagnostics":[]}"#), &mut out).unwrap();
        write_message(&raw_response(&RequestId::from(4), r#"{"kind":"full","items":[]}"#), &mut out).unwrap();
        let bodies: Vec<Vec<u8>> = frames(&out)
            .into_iter()
            .map(|f| match f {
                Frame::Body(b) => b,
                other => panic!("{other:?}"),
            })
            .collect();
        match parse_body(&bodies[0]) {
            Ok(Message::Notification(n)) => {
                assert_eq!(n.method, "textDocument/publishDiagnostics");
                assert_eq!(n.params, serde_json::json!({ "uri": "file:///a.nas", "diagnostics": [] }));
            }
            other => panic!("{other:?}"),
        }
        match parse_body(&bodies[1]) {
            Ok(Message::Response(r)) => {
                assert_eq!(r.id, RequestId::from(4));
                assert_eq!(r.response_result.ok(), Some(serde_json::json!({ "kind": "full", "items": [] })));
            }
            other => panic!("{other:?}"),
        }
    }
}
