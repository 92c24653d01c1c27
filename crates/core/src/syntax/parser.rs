//! Glue between the logos lexer, the lalrpop parser and diagnostics.

use crate::diag::{Diagnostic, FileId, Span, codes};
use crate::syntax::ast::File;
use crate::syntax::comments::attach_comments;
use crate::syntax::lexer::{LexErrorKind, Tok, lex};
use lalrpop_util::ParseError;

/// The parser's user error type (the lexer reports its own errors before parsing).
#[derive(Clone, Debug, PartialEq)]
pub struct ParseErrorAt;

/// Deeper bracket nesting than this is rejected before parsing, so no later phase can run out
/// of stack on a pathological file.
pub const MAX_NESTING: usize = 128;

/// Operators nest too: `x |> relu |> …` and `a + b + …` are left-nested, `- - x` right-nested,
/// so one statement with more operators than this is refused before parsing (a million-stage
/// pipe overflowed the checker's stack). Counted per statement, over-approximating the depth.
pub const MAX_OPERATORS: usize = 4096;

/// The grammar's boxed nodes, moved out of their boxes once off the parser's stack.
pub(crate) fn unbox<T>(v: Vec<Box<T>>) -> Vec<T> {
    v.into_iter().map(|b| *b).collect()
}

/// Parse one file. Always returns an AST (possibly partial) and every syntax error found.
pub fn parse(file: FileId, src: &str) -> (File, Vec<Diagnostic>) {
    let lexed = lex(src);
    let mut diags: Vec<Diagnostic> = lexed.errors.iter().map(|e| lex_error(file, src, e.kind.clone(), e.start, e.end)).collect();
    if let Some(d) = nesting_error(file, &lexed.tokens) {
        diags.push(d);
        return (File::default(), diags);
    }
    let mut recovered = Vec::new();
    let tokens = lexed.tokens.into_iter().map(Ok::<_, ParseErrorAt>);
    let result = crate::grammar::FileParser::new().parse(file, &mut recovered, tokens);
    // A parse error after a lex error is usually its echo (a dropped token): keep the first.
    let first_lex_error = lexed.errors.first().map_or(usize::MAX, |e| e.start);
    let mut keep = |d: Diagnostic| {
        let echo = d.code == codes::UnexpectedEof && first_lex_error != usize::MAX;
        if d.primary.span.start < first_lex_error && !echo {
            diags.push(d);
        }
    };
    for r in recovered {
        keep(parse_error(file, src, r.error));
    }
    let mut ast = match result {
        Ok(ast) => ast,
        Err(e) => {
            keep(parse_error(file, src, e));
            File::default()
        }
    };
    attach_comments(&mut ast, &lexed.comments, src);
    (ast, diags)
}

/// Decode a file's bytes; invalid UTF-8 is a diagnostic at the first bad byte (returned with
/// the text decoded lossily, so the diagnostic can show its line).
pub fn decode(file: FileId, bytes: Vec<u8>) -> Result<String, (Diagnostic, String)> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let byte = e.as_bytes().get(at).copied().unwrap_or(0);
        let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
        // Offsets past `at` shift in the lossy text; `at` itself is still right, and the bad
        // byte became U+FFFD (3 bytes).
        let d = Diagnostic::error(codes::NotUtf8, "file is not valid UTF-8", Span::new(file, at, at + '\u{FFFD}'.len_utf8()))
            .with_primary_label(format!("invalid byte 0x{byte:02x} at offset {at}"))
            .with_hint("save the file as UTF-8");
        (d, lossy)
    })
}

fn lex_error(file: FileId, src: &str, kind: LexErrorKind, start: usize, end: usize) -> Diagnostic {
    let span = Span::new(file, start, end);
    let text = src.get(start..end).unwrap_or("");
    match kind {
        LexErrorKind::UnknownChar => {
            Diagnostic::error(codes::UnexpectedChar, format!("unexpected character `{text}`"), span).with_primary_label("not part of the language")
        }
        LexErrorKind::BadNumber => Diagnostic::error(codes::BadLiteral, format!("invalid literal `{text}`"), span)
            .with_primary_label("numbers must fit in 63 bits; strings allow only \\n \\t \\\\ \\\" escapes"),
        LexErrorKind::UnterminatedString => {
            Diagnostic::error(codes::UnterminatedString, "unterminated string", span).with_primary_label("this string has no closing `\"`")
        }
    }
}

fn nesting_error(file: FileId, tokens: &[(usize, Tok, usize)]) -> Option<Diagnostic> {
    let mut depth = 0usize;
    let mut operators = 0usize;
    for (l, t, r) in tokens {
        match t {
            Tok::LParen | Tok::LBracket | Tok::LBrace | Tok::Lt => depth += 1,
            Tok::RParen | Tok::RBracket | Tok::RBrace | Tok::Gt => depth = depth.saturating_sub(1),
            Tok::Pipe | Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash => operators += 1,
            Tok::Let | Tok::Return | Tok::Block | Tok::Model | Tok::Use | Tok::At => operators = 0,
            _ => {}
        }
        let span = Span::new(file, *l, *r);
        if depth > MAX_NESTING {
            return Some(
                Diagnostic::error(codes::TooDeep, "brackets nested too deeply", span)
                    .with_primary_label(format!("more than {MAX_NESTING} levels of nesting here"))
                    .with_hint("split the expression with `let` bindings"),
            );
        }
        if operators > MAX_OPERATORS {
            return Some(
                Diagnostic::error(codes::TooDeep, "expression too long", span)
                    .with_primary_label(format!("more than {MAX_OPERATORS} operators in one statement"))
                    .with_hint("split the expression with `let` bindings, or repeat a stage: `x |> f * n`"),
            );
        }
    }
    None
}

fn describe_expected(expected: &[String]) -> String {
    let mut names: Vec<String> = expected
        .iter()
        .map(|e| match e.as_str() {
            "Ident" => "identifier".to_string(),
            "IntTok" | "FloatTok" => "number".to_string(),
            "StrTok" => "string".to_string(),
            other => format!("`{}`", other.trim_matches('"')),
        })
        .collect();
    names.sort();
    names.dedup();
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n if n <= 6 => format!("one of {}", names.join(", ")),
        _ => format!("one of {}, …", names[..6].join(", ")),
    }
}

fn parse_error(file: FileId, src: &str, e: ParseError<usize, Tok, ParseErrorAt>) -> Diagnostic {
    match e {
        ParseError::UnrecognizedEof { location, expected } => {
            let at = location.min(src.len());
            let d = Diagnostic::error(codes::UnexpectedEof, "unexpected end of file", Span::new(file, at, at));
            let exp = describe_expected(&expected);
            if exp.is_empty() { d } else { d.with_primary_label(format!("expected {exp}")) }
        }
        ParseError::UnrecognizedToken { token: (l, t, r), expected } => {
            let d = Diagnostic::error(codes::UnexpectedToken, format!("unexpected {t}"), Span::new(file, l, r));
            let exp = describe_expected(&expected);
            let d = if exp.is_empty() { d } else { d.with_primary_label(format!("expected {exp}")) };
            match t {
                Tok::Ident("int" | "float") if exp.contains('[') => d,
                Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash if expected.iter().any(|e| e == "\"|>\"") => {
                    d.with_hint("a pipe stage is one call; put `(` `)` around the pipe to use its value in arithmetic")
                }
                _ => d,
            }
        }
        ParseError::ExtraToken { token: (l, t, r) } => Diagnostic::error(codes::UnexpectedToken, format!("unexpected {t}"), Span::new(file, l, r)),
        ParseError::InvalidToken { location } => Diagnostic::error(codes::UnexpectedChar, "invalid token", Span::new(file, location, location)),
        ParseError::User { .. } => Diagnostic::error(codes::UnexpectedToken, "syntax error", Span::new(file, 0, 0)),
    }
}

/// Parse one expression (used to turn generated dims like `2*C` into AST); `None` on any error.
pub fn parse_expr(src: &str) -> Option<crate::syntax::ast::Expr> {
    let lexed = lex(src);
    if !lexed.errors.is_empty() {
        return None;
    }
    let mut recovered = Vec::new();
    let tokens = lexed.tokens.into_iter().map(Ok::<_, ParseErrorAt>);
    let e = crate::grammar::ExprParser::new().parse(FileId::default(), &mut recovered, tokens).ok()?;
    recovered.is_empty().then_some(e)
}
