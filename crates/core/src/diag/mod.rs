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
    /// The 1-based line of a byte offset (without counting columns, which is linear in the line).
    pub fn line_of(&self, file: FileId, offset: usize) -> usize {
        let Some(f) = self.get(file) else { return 1 };
        f.line_starts.partition_point(|&s| s <= offset.min(f.text.len())).max(1)
    }
    /// The byte range of the line holding `offset` (without its newline).
    pub fn line_range(&self, file: FileId, offset: usize) -> std::ops::Range<usize> {
        let Some(f) = self.get(file) else { return 0..0 };
        let line = f.line_starts.partition_point(|&s| s <= offset.min(f.text.len())).saturating_sub(1);
        let start = f.line_starts[line];
        let end = f.line_starts.get(line + 1).map_or(f.text.len(), |&n| n - 1);
        start..end.max(start)
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
        let one = std::panic::AssertUnwindSafe(|| match long_line_window(d, sources) {
            Some(w) => render_window(d, sources, color, &w),
            None => render_ariadne(d, sources, color, &mut cache),
        });
        out.push_str(&std::panic::catch_unwind(one).unwrap_or_else(|_| format!("{}\n", d.short(sources))));
    }
    out
}

/// Lines longer than this (bytes) are shown as a window around the diagnostic: a 15 KB line
/// quoted by each of 5,000 diagnostics was 151 MB of output.
const LONG_LINE: usize = 240;

/// Past this line number a windowed diagnostic's margin is not numbered as in the file.
const MAX_BLANK_LINES: usize = 20_000;

/// How much of a long line a window shows around its labels, each side.
const WINDOW_MARGIN: usize = 60;

/// The part of a long line a diagnostic is shown with.
struct Window {
    line: usize,
    /// Byte range of the whole line, and of the part shown.
    full: std::ops::Range<usize>,
    shown: std::ops::Range<usize>,
}

/// When the diagnostic's primary span is on a line longer than [`LONG_LINE`]: the window of
/// that line around the labels on it (at most [`LONG_LINE`] bytes past the first label).
fn long_line_window(d: &Diagnostic, sources: &SourceMap) -> Option<Window> {
    let p = d.primary.span;
    let text = &sources.get(p.file)?.text;
    let full = sources.line_range(p.file, p.start);
    if full.len() <= LONG_LINE {
        return None;
    }
    let on_line = |s: &Span| s.file == p.file && full.contains(&s.start);
    let starts = std::iter::once(&p).chain(d.labels.iter().map(|l| &l.span)).filter(|s| on_line(s));
    let first = starts.clone().map(|s| s.start).min().unwrap_or(p.start);
    let last = starts.map(|s| s.end).max().unwrap_or(p.end);
    let mut lo = first.saturating_sub(WINDOW_MARGIN).max(full.start);
    let mut hi = (last + WINDOW_MARGIN).min(first + LONG_LINE).min(full.end).max(lo);
    while !text.is_char_boundary(lo) {
        lo -= 1;
    }
    while !text.is_char_boundary(hi) {
        hi += 1;
    }
    Some(Window { line: sources.line_of(p.file, p.start), full, shown: lo..hi })
}

/// Render `d` against only the window of its long line: labels elsewhere are left out and a
/// note says which columns are shown.
fn render_window(d: &Diagnostic, sources: &SourceMap, color: bool, w: &Window) -> String {
    let p = d.primary.span;
    let text = sources.get(p.file).map_or("", |f| f.text.as_str());
    let (before, after) = (if w.shown.start > w.full.start { "…" } else { "" }, if w.shown.end < w.full.end { "…" } else { "" });
    let excerpt = format!("{before}{}{after}", &text[w.shown.clone()]);
    let name = sources.get(p.file).map(|f| f.name.clone()).unwrap_or_default();
    // ariadne 0.6 numbers the margin without the source's display offset, so empty lines stand
    // in for the lines before (up to a bound: past it only the header's number is right).
    let (blank, offset) = if w.line <= MAX_BLANK_LINES { (w.line - 1, 0) } else { (0, w.line - 1) };
    let text = format!("{}{excerpt}\n", "\n".repeat(blank));
    let mut windowed = SourceMap::default();
    let file = windowed.add(&name, text.clone());
    let base = blank + before.len();
    let map = |s: &Span| {
        let clip = |o: usize| o.clamp(w.shown.start, w.shown.end) - w.shown.start + base;
        Span::new(file, clip(s.start), clip(s.end))
    };
    let mut shown = d.clone();
    shown.primary.span = map(&p);
    shown.labels = d
        .labels
        .iter()
        .filter(|l| l.span.file == p.file && w.full.contains(&l.span.start))
        .map(|l| Label { span: map(&l.span), message: l.message.clone() })
        .collect();
    let (col, cols) = (sources.line_col(p.file, w.shown.start).1, w.full.len());
    shown.notes.push(format!("line {} is {cols} bytes long: shown from column {col}, and columns in the header count from there", w.line));
    let mut cache = (name, ariadne::Source::from(text).with_display_line_offset(offset));
    render_ariadne(&shown, &windowed, color, &mut cache)
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
    fn a_long_line_is_shown_as_a_window_around_the_labels() {
        let mut sm = SourceMap::default();
        let line = format!("let y = f({}zz)", "1, ".repeat(2000));
        let f = sm.add("w.nas", format!("model\n{line}\n"));
        let at = 6 + line.find("zz").expect("zz");
        let d = Diagnostic::error(codes::UnknownName, "cannot find value `zz` in this scope", Span::new(f, at, at + 2));
        let text = d.render(&sm, false);
        assert!(text.len() < 1000, "{} bytes", text.len());
        assert!(text.contains("w.nas:2:") && text.contains(" 2 │ …") && text.contains("zz)"), "{text}");
        assert!(text.contains("line 2 is 6013 bytes long: shown from column 5951"), "{text}");
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
