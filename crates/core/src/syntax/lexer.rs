//! The logos lexer. Comments are not tokens for the parser: they are collected on the side
//! so the printer can put them back.

use logos::Logos;
use std::fmt;

/// An integer literal with the suffix it was written with (`50k`, `2M`), kept for printing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntLit {
    pub value: u64,
    pub suffix: Option<char>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum LexErrorKind {
    #[default]
    UnknownChar,
    BadNumber,
    UnterminatedString,
}

#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(error = LexErrorKind)]
pub enum Tok<'a> {
    #[token("use")]
    Use,
    #[token("block")]
    Block,
    #[token("model")]
    Model,
    #[token("let")]
    Let,
    #[token("return")]
    Return,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("in")]
    In,
    #[token("for")]
    For,
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice())]
    Ident(&'a str),
    #[regex(r"[0-9][0-9_]*[kMG]?", parse_int)]
    Int(IntLit),
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9]+)?", parse_float)]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9]+", parse_float)]
    Float(f64),
    #[regex(r#""([^"\\\n]|\\.)*""#, |lex| unescape(lex.slice()))]
    #[regex(r#""([^"\\\n]|\\.)*"#, |_| Err(LexErrorKind::UnterminatedString))]
    Str(String),
    #[regex(r"//[^\n]*", allow_greedy = true)]
    Comment,
    #[token("|>")]
    Pipe,
    #[token("->")]
    Arrow,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("=")]
    Eq,
    #[token(">=")]
    Ge,
    #[token("<=")]
    Le,
    #[token("<")]
    Lt,
    #[token(">")]
    Gt,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token(".")]
    Dot,
    #[token("..")]
    DotDot,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("?")]
    Question,
    #[token("@")]
    At,
}

fn parse_int<'a>(lex: &mut logos::Lexer<'a, Tok<'a>>) -> Result<IntLit, LexErrorKind> {
    let s = lex.slice();
    let (digits, suffix) = match s.chars().last() {
        Some(c @ ('k' | 'M' | 'G')) => (&s[..s.len() - 1], Some(c)),
        _ => (s, None),
    };
    let mult: u64 = match suffix {
        Some('k') => 1_000,
        Some('M') => 1_000_000,
        Some('G') => 1_000_000_000,
        _ => 1,
    };
    let value: u64 = digits.replace('_', "").parse().map_err(|_| LexErrorKind::BadNumber)?;
    let value = value.checked_mul(mult).ok_or(LexErrorKind::BadNumber)?;
    // Dims are i64 inside the compiler: keep every literal representable.
    if value > i64::MAX as u64 {
        return Err(LexErrorKind::BadNumber);
    }
    Ok(IntLit { value, suffix })
}

fn parse_float<'a>(lex: &mut logos::Lexer<'a, Tok<'a>>) -> Result<f64, LexErrorKind> {
    let v: f64 = lex.slice().replace('_', "").parse().map_err(|_| LexErrorKind::BadNumber)?;
    if v.is_finite() { Ok(v) } else { Err(LexErrorKind::BadNumber) }
}

fn unescape(s: &str) -> Result<String, LexErrorKind> {
    let inner = &s[1..s.len() - 1];
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(c @ ('\\' | '"')) => out.push(c),
            _ => return Err(LexErrorKind::BadNumber),
        }
    }
    Ok(out)
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Tok::Ident(s) => return write!(f, "identifier `{s}`"),
            Tok::Int(i) => return write!(f, "number `{}`", i.value),
            Tok::Float(v) => return write!(f, "number `{v:?}`"),
            Tok::Str(_) => "a string",
            Tok::Comment => "a comment",
            t => return write!(f, "`{}`", token_text(t)),
        };
        write!(f, "{s}")
    }
}

/// The spelling of a fixed token, as the printer writes it.
pub fn token_text(t: &Tok) -> &'static str {
    match t {
        Tok::Use => "use",
        Tok::Block => "block",
        Tok::Model => "model",
        Tok::Let => "let",
        Tok::Return => "return",
        Tok::True => "true",
        Tok::False => "false",
        Tok::In => "in",
        Tok::For => "for",
        Tok::Pipe => "|>",
        Tok::Arrow => "->",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Star => "*",
        Tok::Slash => "/",
        Tok::Eq => "=",
        Tok::Ge => ">=",
        Tok::Le => "<=",
        Tok::Lt => "<",
        Tok::Gt => ">",
        Tok::Comma => ",",
        Tok::Colon => ":",
        Tok::Dot => ".",
        Tok::DotDot => "..",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::Question => "?",
        Tok::At => "@",
        Tok::Ident(_) | Tok::Int(_) | Tok::Float(_) | Tok::Str(_) | Tok::Comment => "",
    }
}

/// A comment seen by the lexer, with its byte range. `doc` for `///`.
#[derive(Clone, Debug)]
pub struct RawComment {
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub doc: bool,
}

/// A lexing failure at a byte range.
#[derive(Clone, Debug)]
pub struct LexError {
    pub kind: LexErrorKind,
    pub start: usize,
    pub end: usize,
}

pub struct Lexed<'a> {
    pub tokens: Vec<(usize, Tok<'a>, usize)>,
    pub comments: Vec<RawComment>,
    pub errors: Vec<LexError>,
}

/// Lex a whole file. Bad characters become errors and lexing goes on, so one run reports them all.
pub fn lex(src: &str) -> Lexed<'_> {
    let mut out = Lexed { tokens: Vec::new(), comments: Vec::new(), errors: Vec::new() };
    let mut lexer = Tok::lexer(src);
    // A UTF-8 byte-order mark (some Windows editors write one) is not part of the program.
    if src.starts_with('\u{feff}') {
        lexer.bump('\u{feff}'.len_utf8());
    }
    while let Some(tok) = lexer.next() {
        let span = lexer.span();
        match tok {
            Ok(Tok::Comment) => {
                let text = lexer.slice();
                let doc = text.starts_with("///") && !text.starts_with("////");
                let body = if doc { &text[3..] } else { &text[2..] };
                out.comments.push(RawComment { start: span.start, end: span.end, text: body.trim_end().to_string(), doc });
            }
            Ok(t) => out.tokens.push((span.start, t, span.end)),
            Err(kind) => out.errors.push(LexError { kind, start: span.start, end: span.end }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let l = lex("\u{feff}model");
        assert!(l.errors.is_empty());
        assert_eq!(l.tokens, vec![(3, Tok::Model, 8)]);
        // Anywhere else it is a character the language does not know.
        assert_eq!(lex("model \u{feff}").errors.len(), 1);
    }

    #[test]
    fn lexes_numbers_with_suffixes() {
        let l = lex("50k 2M 1_000 0.5 1e-6 3");
        let toks: Vec<_> = l.tokens.into_iter().map(|(_, t, _)| t).collect();
        assert_eq!(toks[0], Tok::Int(IntLit { value: 50_000, suffix: Some('k') }));
        assert_eq!(toks[1], Tok::Int(IntLit { value: 2_000_000, suffix: Some('M') }));
        assert_eq!(toks[2], Tok::Int(IntLit { value: 1000, suffix: None }));
        assert_eq!(toks[3], Tok::Float(0.5));
        assert_eq!(toks[4], Tok::Float(1e-6));
    }

    #[test]
    fn comments_go_aside() {
        let l = lex("/// doc\nlet x // tail\n");
        assert_eq!(l.tokens.len(), 2);
        assert_eq!(l.comments.len(), 2);
        assert!(l.comments[0].doc);
        assert_eq!(l.comments[1].text, " tail");
    }

    #[test]
    fn bad_characters_are_errors_not_panics() {
        let l = lex("let $ = \"abc");
        assert_eq!(l.errors.len(), 2);
        assert_eq!(l.errors[1].kind, LexErrorKind::UnterminatedString);
        assert!(!lex("99999999999999999999999").errors.is_empty());
    }
}
