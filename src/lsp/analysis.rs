//! One document's analysis and the editor features computed from it.

use super::position::{LineIndex, to_offset, to_range};
use crate::check::Stop;
use crate::check::{Checked, check, check_shallow_until, complete_graph};
use crate::diag::{Diagnostic, Severity, Span, codes};
use crate::ir::Graph;
use crate::program::Program;
use crate::syntax::ast::{ExprKind, Hole, ItemKind, Stage};
use crate::syntax::visit;
use lsp_types::{Position, Range, Uri};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::PathBuf;

/// An LSP `Diagnostic` as nasc fills it, borrowing from its analysis.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LspDiagnostic<'a> {
    pub range: Range,
    pub severity: u8,
    pub code: codes::Code,
    pub source: &'static str,
    pub message: String,
    pub related_information: Vec<Related<'a>>,
}

#[derive(Serialize)]
pub struct Related<'a> {
    pub location: Location<'a>,
    pub message: &'a str,
}

#[derive(Serialize)]
pub struct Location<'a> {
    pub uri: &'a Uri,
    pub range: Range,
}

pub struct Analysis {
    uri: Uri,
    text: String,
    lines: LineIndex,
    program: Program,
    checked: Checked,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn uri_path(uri: &Uri) -> Option<PathBuf> {
    uri.as_str().strip_prefix("file://").map(|p| PathBuf::from(percent_decode(p)))
}

fn path_uri(path: &str) -> String {
    let abs = std::fs::canonicalize(path).map(|p| p.display().to_string()).unwrap_or_else(|_| path.to_string());
    format!("file://{}", abs.replace('%', "%25").replace(' ', "%20"))
}

fn ident_at(text: &str, offset: usize) -> Option<(usize, usize, &str)> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let offset = offset.min(text.len());
    // Past the non-identifier char before the word, which may be several bytes long (`é`).
    let start = text[..offset].char_indices().rev().find(|(_, c)| !is_ident(*c)).map_or(0, |(i, c)| i + c.len_utf8());
    let end = text[offset..].find(|c: char| !is_ident(c)).map_or(text.len(), |i| offset + i);
    (start < end).then(|| (start, end, &text[start..end]))
}

fn markdown(s: String) -> Value {
    json!({ "contents": { "kind": "markdown", "value": s } })
}

impl Analysis {
    pub fn new(uri: &Uri, text: &str) -> Analysis {
        Analysis::until(uri, text, Stop::default())
    }

    /// `new`, giving up when `stop` says so (a newer version arrived, or the time budget ran out).
    pub fn until(uri: &Uri, text: &str, stop: Stop) -> Analysis {
        let path = uri_path(uri);
        let name = path.as_ref().map_or_else(|| uri.as_str().to_string(), |p| p.display().to_string());
        let dir = path.as_ref().and_then(|p| p.parent().map(PathBuf::from));
        let program = Program::from_source_in(&name, text, dir.as_deref());
        // Shallow: block hovers and code actions make the complete graphs they need.
        let checked = check_shallow_until(&program, stop);
        Analysis { uri: uri.clone(), text: text.to_string(), lines: LineIndex::new(text), program, checked }
    }

    /// `new`, but a panic in a phase becomes one diagnostic instead of ending the server (and
    /// the user's unsaved work with it).
    pub fn guarded(uri: &Uri, text: &str) -> Analysis {
        Analysis::guarded_until(uri, text, Stop::default())
    }

    /// `guarded` with a `stop` (see `until`).
    pub fn guarded_until(uri: &Uri, text: &str, stop: Stop) -> Analysis {
        let run = std::panic::AssertUnwindSafe(|| Analysis::until(uri, text, stop));
        std::panic::catch_unwind(run).unwrap_or_else(|_| {
            let program = Program::from_source(uri.as_str(), "");
            let mut checked = check(&program);
            let span = Span::new(program.root, 0, 0);
            checked
                .diagnostics
                .push(Diagnostic::error(codes::Internal, "internal error while checking this file", span).with_hint("please report it with the file"));
            Analysis { uri: uri.clone(), text: text.to_string(), lines: LineIndex::new(text), program, checked }
        })
    }

    fn in_root(&self, s: &Span) -> bool {
        s.file == self.program.root
    }

    fn range(&self, s: &Span) -> Range {
        self.lines.range(&self.text, s.start, s.end)
    }

    /// The same diagnostics as `nasc check`, as LSP diagnostics. Errors in imported files are
    /// shown at the top of the document with their file name.
    pub fn lsp_diagnostics(&self) -> Vec<LspDiagnostic<'_>> {
        self.checked.diagnostics.iter().map(|d| self.lsp_diagnostic(d)).collect()
    }

    /// `lsp_diagnostics` as a JSON array, serialised from the borrowed structs directly: as a
    /// `serde_json::Value` tree, 5,000 diagnostics took longer to build, write and free than
    /// the whole check of their document.
    pub fn lsp_diagnostics_json(&self) -> String {
        serde_json::to_string(&self.lsp_diagnostics()).unwrap_or_else(|_| "[]".into())
    }

    fn lsp_diagnostic<'a>(&'a self, d: &'a Diagnostic) -> LspDiagnostic<'a> {
        let mut message = d.message.clone();
        if !d.primary.message.is_empty() {
            message.push_str(&format!(" ({})", d.primary.message));
        }
        for n in &d.notes {
            message.push_str(&format!("\nnote: {n}"));
        }
        for h in &d.hints {
            message.push_str(&format!("\nhelp: {h}"));
        }
        let range = if self.in_root(&d.primary.span) {
            self.range(&d.primary.span)
        } else {
            let file = self.program.sources.get(d.primary.span.file).map(|f| f.name.clone()).unwrap_or_default();
            message = format!("in {file}: {message}");
            Range::default()
        };
        let related_information = d
            .labels
            .iter()
            .filter(|l| self.in_root(&l.span))
            .map(|l| Related { location: Location { uri: &self.uri, range: self.range(&l.span) }, message: &l.message })
            .collect();
        LspDiagnostic { range, severity: if d.severity == Severity::Error { 1 } else { 2 }, code: d.code, source: "nasc", message, related_information }
    }

    fn graphs(&self) -> impl Iterator<Item = &Graph> {
        self.checked.graphs.iter()
    }

    pub fn hover(&self, pos: Position) -> Option<Value> {
        let offset = to_offset(&self.text, pos);
        // A name bound to a tensor: its shape.
        let binding = self
            .graphs()
            .flat_map(|g| g.bindings.iter().map(move |(s, t)| (s, g.shape(*t))))
            .filter(|(s, _)| self.in_root(s) && s.start <= offset && offset <= s.end)
            .min_by_key(|(s, _)| s.end - s.start);
        if let Some((s, shape)) = binding {
            return Some(markdown(format!("`{}`: `{shape}`", &self.text[s.start..s.end])));
        }
        let (_, _, word) = ident_at(&self.text, offset)?;
        if let Some((count, callee)) = self.program.root_ast().and_then(|a| find_index(a, word, offset)) {
            return Some(markdown(format!("`{word}`: the index of the repetition of `{callee}`, from 0 to {count} − 1")));
        }
        if let Some(b) = self.program.block(word) {
            return Some(markdown(self.block_hover(b)));
        }
        if let Some(op) = crate::ops::lookup(word) {
            return Some(markdown(format!("```nas\n{}\n```\n{}", op.signature(), op.doc)));
        }
        // Any other expression: the shape of the smallest tensor made there.
        let expr = self
            .graphs()
            .flat_map(|g| g.tensors.iter())
            .filter(|t| self.in_root(&t.span) && t.span.start <= offset && offset <= t.span.end)
            .min_by_key(|t| t.span.end - t.span.start)?;
        Some(markdown(format!("`{}`", expr.shape)))
    }

    fn block_hover(&self, b: &crate::program::BlockEntry) -> String {
        let def = &b.def;
        let params: Vec<String> = def.params.iter().map(|p| format!("{}: {}", p.name.name, crate::syntax::print::print_type(&p.ty))).collect();
        let kw = if def.is_model { "model" } else { "block" };
        let mut s = format!("```nas\n{kw} {}({}) -> {}\n```\n", def.name.name, params.join(", "), crate::syntax::print::print_type(&def.ret));
        if !b.doc.is_empty() {
            s.push_str(&b.doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "));
            s.push('\n');
        }
        if self.checked.graph(&def.name.name).is_some() {
            // The shallow check's block graphs leave out the blocks they call.
            let g = &complete_graph(&self.program, b);
            let r = crate::report::report(&self.program, g);
            s.push_str(&format!("\nparams: {}, MACs: {}\n", r.params.pretty(), r.macs.pretty()));
            let p = crate::props::infer_graph(g);
            if let Some(Some(pair)) = p.pairs.first().and_then(|row| row.first()) {
                s.push_str(&format!("\ndepth {}, mixing {:?}\n", pair.depth.value(), pair.mixing));
            }
        }
        s
    }

    fn location(&self, span: &Span) -> Option<Value> {
        let file = self.program.sources.get(span.file)?;
        let uri = if self.in_root(span) {
            self.uri.as_str().to_string()
        } else if std::path::Path::new(&file.name).exists() {
            path_uri(&file.name)
        } else {
            return None;
        };
        Some(json!({ "uri": uri, "range": to_range(&file.text, span.start, span.end) }))
    }

    pub fn definition(&self, pos: Position) -> Option<Value> {
        let offset = to_offset(&self.text, pos);
        // A use of a tensor name: the first place that tensor got a name.
        for g in self.graphs() {
            let hit = g.bindings.iter().find(|(s, _)| self.in_root(s) && s.start <= offset && offset <= s.end);
            if let Some((_, t)) = hit {
                let first = g.bindings.iter().filter(|(_, u)| u == t).map(|(s, _)| s).min_by_key(|s| s.start)?;
                return self.location(first);
            }
        }
        let (_, _, word) = ident_at(&self.text, offset)?;
        if let Some((count, callee)) = self.program.root_ast().and_then(|a| find_index(a, word, offset)) {
            return Some(markdown(format!("`{word}`: the index of the repetition of `{callee}`, from 0 to {count} − 1")));
        }
        if let Some(b) = self.program.block(word) {
            return self.location(&b.def.name.span);
        }
        // An import: the file it reads.
        let ast = self.program.root_ast()?;
        for item in &ast.items {
            if let ItemKind::Use(path) = &item.kind
                && item.span.start <= offset
                && offset <= item.span.end
            {
                let dotted: Vec<&str> = path.iter().map(|i| i.name.as_str()).collect();
                let file = self.program.files.iter().map(|(f, _)| *f).find(|f| {
                    self.program
                        .sources
                        .get(*f)
                        .is_some_and(|s| s.name.ends_with(&format!("{}.nas", dotted[1..].join("/"))) || s.name.ends_with(&format!("{}.nas", dotted.join("/"))))
                })?;
                return self.location(&Span::new(file, 0, 0));
            }
        }
        None
    }

    pub fn symbols(&self) -> Value {
        let Some(ast) = self.program.root_ast() else { return json!([]) };
        let syms: Vec<Value> = ast
            .items
            .iter()
            .filter_map(|item| {
                let ItemKind::Block(b) = &item.kind else { return None };
                let params: Vec<&str> = b.params.iter().map(|p| p.name.name.as_str()).collect();
                Some(json!({
                    "name": b.name.name,
                    "detail": format!("({}) -> {}", params.join(", "), crate::syntax::print::print_type(&b.ret)),
                    "kind": if b.is_model { 5 } else { 12 },
                    "range": self.range(&item.span),
                    "selectionRange": self.range(&b.name.span),
                }))
            })
            .collect();
        json!(syms)
    }

    pub fn completion(&self, pos: Position) -> Value {
        let offset = to_offset(&self.text, pos);
        let mut items: Vec<Value> = Vec::new();
        if let Some(callee) = self.open_call(offset) {
            let names: Vec<(String, String)> = match (crate::ops::lookup(&callee), self.program.block(&callee)) {
                (Some(op), _) => op.args.iter().skip(op.tensor_args()).map(|a| (a.name.to_string(), format!("{}", a.kind))).collect(),
                (None, Some(b)) => b.def.params.iter().skip(1).map(|p| (p.name.name.clone(), crate::syntax::print::print_type(&p.ty))).collect(),
                _ => vec![],
            };
            items.extend(names.into_iter().map(|(n, d)| json!({ "label": format!("{n}:"), "kind": 5, "detail": d, "insertText": format!("{n}: ") })));
        }
        items.extend(crate::ops::catalog().iter().map(|s| json!({ "label": s.name, "kind": 3, "detail": s.signature(), "documentation": s.doc })));
        items.extend(self.program.blocks.iter().map(|b| json!({ "label": b.def.name.name, "kind": 7, "detail": b.doc.join(" ").trim() })));
        json!(items)
    }

    /// The callee of the innermost call whose `(` is open at `offset`.
    fn open_call(&self, offset: usize) -> Option<String> {
        let before = &self.text[..offset.min(self.text.len())];
        let mut depth = 0i32;
        for (i, ch) in before.char_indices().rev() {
            match ch {
                ')' | ']' => depth += 1,
                '(' | '[' if depth > 0 => depth -= 1,
                '(' => return ident_at(before, i).map(|(_, _, w)| w.to_string()),
                '[' | '{' | '}' => return None,
                _ => {}
            }
        }
        None
    }

    pub fn format(&self) -> Option<Value> {
        if self.program.diagnostics.iter().any(|d| d.is_error()) {
            return None;
        }
        let text = crate::syntax::print_file(self.program.root_ast()?);
        if text == self.text {
            return Some(json!([]));
        }
        Some(json!([{ "range": to_range(&self.text, 0, self.text.len()), "newText": text }]))
    }

    pub fn code_actions(&self, range: Range) -> Value {
        let (start, end) = (to_offset(&self.text, range.start), to_offset(&self.text, range.end));
        let touched = self.graphs().flat_map(|g| g.holes()).any(|(_, h)| self.in_root(&h.span) && h.span.start <= end && start <= h.span.end);
        if !touched || self.checked.has_errors() {
            return json!([]);
        }
        // Synthesis reads the properties of the graph around a hole: the complete graphs.
        let checked = check(&self.program);
        let Ok(filled) = crate::synth::fill::fill_holes(&self.program, &checked, &crate::synth::SynthConfig::default()) else {
            return json!([]);
        };
        let ast = self.program.root_ast();
        let actions: Vec<Value> = filled
            .holes
            .iter()
            .filter(|f| self.in_root(&f.span) && f.span.start <= end && start <= f.span.end)
            .filter_map(|f| {
                let hole = ast.and_then(|a| find_hole(a, f.span))?;
                let new_text = crate::syntax::print::print_expr(&crate::synth::fill::fill_expr(f, &hole.inputs)?, 0);
                let edit = json!({ "changes": { self.uri.as_str(): [{ "range": self.range(&f.span), "newText": new_text }] } });
                Some(json!({ "title": format!("Fill hole with `{new_text}`"), "kind": "quickfix", "edit": edit }))
            })
            .collect();
        json!(actions)
    }
}

/// The repetition whose index is `name` around `offset` (`|> B(rate: 0.1 * i) * n for i`): its
/// count, printed, and its callee.
fn find_index(ast: &crate::syntax::ast::File, name: &str, offset: usize) -> Option<(String, String)> {
    ast.items.iter().find_map(|item| match &item.kind {
        ItemKind::Block(b) => visit::body_values(b).find_map(|value| {
            visit::find_map(value, &mut |e| match &e.kind {
                ExprKind::Pipe { stage, .. } => match stage.as_ref() {
                    Stage::Call { callee, repeat: Some(n), index: Some(i), span, .. } if i.name == name && span.start <= offset && offset <= span.end => {
                        Some((crate::syntax::print::print_expr(n, 0), callee.name.clone()))
                    }
                    _ => None,
                },
                _ => None,
            })
        }),
        ItemKind::Use(_) => None,
    })
}

fn find_hole(ast: &crate::syntax::ast::File, span: Span) -> Option<&Hole> {
    let at = |h: &Hole| h.span.range() == span.range();
    ast.items.iter().find_map(|item| match &item.kind {
        ItemKind::Block(b) => visit::body_values(b).find_map(|value| {
            visit::find_map(value, &mut |e| match &e.kind {
                ExprKind::Hole(h) if at(h) => Some(h),
                ExprKind::Pipe { stage, .. } => match stage.as_ref() {
                    Stage::Hole(h) if at(h) => Some(h),
                    _ => None,
                },
                _ => None,
            })
        }),
        ItemKind::Use(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hovering_a_repetition_index_says_its_range() {
        let uri: Uri = "file:///tmp/idx.nas".parse().expect("uri");
        let text = "block B(x: [N, 8], r: float) -> [N, 8] {\n    return x |> dropout(r)\n}\n\nmodel M(x: [N, 8]) -> [N, 8] {\n    return x |> B(r: 0.1 * i) * 4 for i\n}\n";
        let a = Analysis::guarded(&uri, text);
        let hover = a.hover(Position { line: 5, character: 27 }).expect("a hover");
        assert_eq!(hover["contents"]["value"], "`i`: the index of the repetition of `B`, from 0 to 4 − 1");
    }

    /// Every request at every kind of position (past the end, inside multi-byte characters,
    /// on odd lines) answers without a panic, on every example and some hostile text.
    #[test]
    fn requests_anywhere_never_panic() {
        let mut texts: Vec<String> = ["examples/cnn_digits.nas", "examples/resnet50.nas", "examples/holes/conv_down_hole.nas"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect();
        texts.push("model Mé(x: [B, 8]) -> [B, 8] { let é = x |> relu\n return é }".into());
        texts.push("é(é(é".into());
        let uri: Uri = "file:///tmp/hostile.nas".parse().expect("uri");
        let mut rng = crate::rng::Rng::new(3);
        for text in &texts {
            let a = Analysis::guarded(&uri, text);
            let lines = text.lines().count() as u32 + 2;
            for _ in 0..300 {
                let p = Position { line: rng.below(lines as usize) as u32, character: rng.below(90) as u32 };
                let q = Position { line: p.line + rng.below(3) as u32, character: rng.below(90) as u32 };
                let _ = a.hover(p);
                let _ = a.definition(p);
                let _ = a.completion(p);
                if rng.below(10) == 0 {
                    let _ = a.code_actions(Range { start: p, end: q }); // fills holes: slower
                }
            }
            let _ = a.symbols();
            let _ = a.format();
            let _ = a.lsp_diagnostics();
        }
    }
}
