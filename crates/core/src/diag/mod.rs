//! Diagnostics: one value type for every error and warning nasc reports, rendered with
//! ariadne in the terminal and as JSON for tools (and, later, as LSP diagnostics).

pub mod codes;
mod suggest;

pub use codes::Code;
pub use suggest::suggest;

use serde::Serialize;
use std::fmt;

/// Index of a source file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct FileId(pub u32);

/// A byte range in one file.
///
/// Spans never take part in AST equality: two programs that differ only in layout are equal
/// (that is what the parse∘print round trip compares). Compare [`Span::range`] when the
/// position matters.
#[derive(Clone, Copy, Default)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start, end }
    }
    pub fn range(&self) -> (FileId, usize, usize) {
        (self.file, self.start, self.end)
    }
    /// The smallest span covering both.
    pub fn to(&self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// All source text a compilation has seen: the user's files and the stdlib files they import.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceMap {
    pub fn add(&mut self, name: &str, text: String) -> FileId {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        self.files.push(SourceFile { name: name.to_string(), text, line_starts });
        FileId(self.files.len() as u32 - 1)
    }
    /// The id the next added file will get.
    pub fn next_id(&self) -> FileId {
        FileId(self.files.len() as u32)
    }
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }
    pub fn find(&self, name: &str) -> Option<FileId> {
        self.files.iter().position(|f| f.name == name).map(|i| FileId(i as u32))
    }
    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i as u32), f))
    }
    /// 1-based line and column (columns count characters) of a byte offset.
    pub fn line_col(&self, file: FileId, offset: usize) -> (usize, usize) {
        let Some(f) = self.get(file) else { return (1, 1) };
        let offset = offset.min(f.text.len());
        let line = f.line_starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = f.line_starts[line];
        let col = f.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One error or warning: a code (`E0301`), a one-line message, a primary span with its label,
/// secondary labels, notes (facts) and hints (what to do).
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub primary: Label,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub hints: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary: Label { span, message: String::new() },
            labels: Vec::new(),
            notes: Vec::new(),
            hints: Vec::new(),
        }
    }
    pub fn warning(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message, span) }
    }
    /// The text under the primary span.
    pub fn with_primary_label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into() });
        self
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render as rustc-style text. `color` adds ANSI colours.
    pub fn render(&self, sources: &SourceMap, color: bool) -> String {
        render_all(std::slice::from_ref(self), sources, color)
    }

    /// A JSON value for `--format json`, with 1-based lines and columns.
    pub fn to_json(&self, sources: &SourceMap) -> serde_json::Value {
        let loc = |span: &Span| {
            let (line, col) = sources.line_col(span.file, span.start);
            let (end_line, end_col) = sources.line_col(span.file, span.end);
            let file = sources.get(span.file).map(|f| f.name.clone()).unwrap_or_default();
            serde_json::json!({
                "file": file, "line": line, "col": col, "end_line": end_line, "end_col": end_col,
                "start": span.start, "end": span.end,
            })
        };
        let labels: Vec<_> = self.labels.iter().map(|l| serde_json::json!({ "span": loc(&l.span), "message": l.message })).collect();
        serde_json::json!({
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "span": loc(&self.primary.span),
            "label": self.primary.message,
            "labels": labels,
            "notes": self.notes,
            "hints": self.hints,
        })
    }

    /// `file:line:col: error[E0301]: message` — one line, for tests and logs.
    pub fn short(&self, sources: &SourceMap) -> String {
        let (line, col) = sources.line_col(self.primary.span.file, self.primary.span.start);
        let file = sources.get(self.primary.span.file).map(|f| f.name.as_str()).unwrap_or("?");
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        format!("{file}:{line}:{col}: {sev}[{}]: {}", self.code, self.message)
    }
}

/// Render many diagnostics as text. The sources are indexed for ariadne once, not once per
/// diagnostic (8,000 errors took 20 s when each re-read every file).
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let mut used: Vec<FileId> = diags.iter().flat_map(|d| std::iter::once(d.primary.span.file).chain(d.labels.iter().map(|l| l.span.file))).collect();
    used.sort();
    used.dedup();
    let mut cache = ariadne::sources(used.iter().filter_map(|&id| sources.get(id)).map(|f| (f.name.clone(), f.text.as_str())));
    let mut out = String::new();
    for d in diags {
        // The renderer is a dependency: if it ever fails on odd text, fall back to one line
        // rather than crash the compiler.
        let one = std::panic::AssertUnwindSafe(|| render_ariadne(d, sources, color, &mut cache));
        out.push_str(&std::panic::catch_unwind(one).unwrap_or_else(|_| format!("{}\n", d.short(sources))));
    }
    out
}

fn render_ariadne(d: &Diagnostic, sources: &SourceMap, color: bool, cache: &mut impl ariadne::Cache<String>) -> String {
    use ariadne::{Config, IndexType, Label as ALabel, Report, ReportKind};
    let name = |s: &Span| sources.get(s.file).map(|f| f.name.clone()).unwrap_or_default();
    // Spans must lie on char boundaries for ariadne.
    let clamp = |s: &Span| {
        let text = sources.get(s.file).map_or("", |f| f.text.as_str());
        let mut start = s.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = s.end.clamp(start, text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        start..end
    };
    let kind = match d.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let primary = &d.primary.span;
    let mut report = Report::build(kind, (name(primary), clamp(primary)))
        .with_config(Config::default().with_color(color).with_index_type(IndexType::Byte))
        .with_code(d.code)
        .with_message(&d.message);
    // ariadne draws only labels with a message.
    let text = if d.primary.message.is_empty() { "here" } else { d.primary.message.as_str() };
    let first = ALabel::new((name(primary), clamp(primary))).with_message(text);
    report = report.with_label(first);
    for l in &d.labels {
        report = report.with_label(ALabel::new((name(&l.span), clamp(&l.span))).with_message(&l.message));
    }
    for n in &d.notes {
        report = report.with_note(n);
    }
    for h in &d.hints {
        report = report.with_help(h);
    }
    let mut out = Vec::new();
    if report.finish().write(cache, &mut out).is_err() {
        return format!("{}[{}]: {}\n", if d.is_error() { "error" } else { "warning" }, d.code, d.message);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sort by file and position and drop repeats of the same code at the same place
/// (a block body checked once generically and again at each call reports once).
pub fn dedup(diags: &mut Vec<Diagnostic>) {
    diags.sort_by_key(|d| (d.primary.span.file, d.primary.span.start, d.primary.span.end, d.code));
    diags.dedup_by(|a, b| a.code == b.code && a.primary.span.range() == b.primary.span.range());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let mut sm = SourceMap::default();
        let f = sm.add("a.nas", "ab\nµx y\n".to_string());
        assert_eq!(sm.line_col(f, 0), (1, 1));
        assert_eq!(sm.line_col(f, 3), (2, 1));
        // 'µ' is two bytes: the 'x' after it is column 2.
        assert_eq!(sm.line_col(f, 5), (2, 2));
    }

    #[test]
    fn renders_code_message_and_labels() {
        let mut sm = SourceMap::default();
        let f = sm.add("m.nas", "let y = x + z\n".to_string());
        let d = Diagnostic::error(codes::ShapeMismatch, "shape mismatch in `+`", Span::new(f, 8, 13))
            .with_label(Span::new(f, 12, 13), "[B, 4]")
            .with_note("a note");
        let text = d.render(&sm, false);
        assert!(text.contains("[E0301]"), "{text}");
        assert!(text.contains("shape mismatch in `+`"), "{text}");
        assert!(text.contains("m.nas:1:9"), "{text}");
        assert!(text.contains("[B, 4]"), "{text}");
        assert_eq!(d.short(&sm), "m.nas:1:9: error[E0301]: shape mismatch in `+`");
    }
}
