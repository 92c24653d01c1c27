//! The canonical printer: AST back to `.nas` text. `nasc fmt` is `print(parse(text))`;
//! printing is idempotent and `parse(print(ast)) == ast`.

use crate::syntax::ast::*;
use std::fmt::Write;

/// Statements longer than this break their pipe before each `|>`.
const MAX_WIDTH: usize = 100;
const INDENT: &str = "    ";

pub fn print_file(file: &File) -> String {
    let mut out = String::new();
    let mut prev_use = false;
    for (i, item) in file.items.iter().enumerate() {
        let is_use = matches!(item.kind, ItemKind::Use(_));
        let commented = !item.comments.is_empty() || !item.detached_comments.is_empty();
        if i > 0 && !(is_use && prev_use && !commented) {
            out.push('\n');
        }
        print_item(&mut out, item);
        prev_use = is_use;
    }
    if !file.trailing_comments.is_empty() {
        if !file.items.is_empty() {
            out.push('\n');
        }
        for c in &file.trailing_comments {
            let _ = writeln!(out, "//{c}");
        }
    }
    out
}

fn print_item(out: &mut String, item: &Item) {
    for c in &item.detached_comments {
        let _ = writeln!(out, "//{c}");
    }
    if !item.detached_comments.is_empty() {
        out.push('\n');
    }
    for c in &item.comments {
        let _ = writeln!(out, "//{c}");
    }
    for d in &item.doc {
        let _ = writeln!(out, "///{d}");
    }
    for a in &item.attrs {
        let _ = writeln!(out, "{}", print_attr(a));
    }
    match &item.kind {
        ItemKind::Use(path) => {
            let names: Vec<&str> = path.iter().map(|i| i.name.as_str()).collect();
            let _ = writeln!(out, "use {}", names.join("."));
        }
        ItemKind::Block(b) => print_block(out, b),
    }
}

fn print_attr(a: &Attr) -> String {
    if a.args.is_empty() { format!("@{}", a.name.name) } else { format!("@{}({})", a.name.name, print_args(&a.args)) }
}

fn print_block(out: &mut String, b: &BlockDef) {
    let kw = if b.is_model { "model" } else { "block" };
    let params: Vec<String> = b.params.iter().map(print_param).collect();
    let _ = writeln!(out, "{kw} {}({}) -> {} {{", b.name.name, params.join(", "), print_type(&b.ret));
    for (k, s) in b.body.iter().enumerate() {
        if k > 0 && s.blank_before.0 {
            out.push('\n');
        }
        print_stmt(out, s);
    }
    for c in &b.end_comments {
        let _ = writeln!(out, "{INDENT}//{c}");
    }
    out.push_str("}\n");
}

fn print_param(p: &Param) -> String {
    let mut s = format!("{}: {}", p.name.name, print_type(&p.ty));
    if let Some(d) = &p.default {
        let _ = write!(s, " = {}", print_expr(d, 0));
    }
    s
}

pub fn print_type(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Tensor(dims, _) => {
            let d: Vec<String> = dims.iter().map(|e| print_expr(e, PREC_SUM)).collect();
            format!("[{}]", d.join(", "))
        }
        TypeExpr::Scalar(i) => i.name.clone(),
        TypeExpr::Tuple(ts, _) => {
            let v: Vec<String> = ts.iter().map(print_type).collect();
            format!("({})", v.join(", "))
        }
    }
}

fn print_stmt(out: &mut String, s: &Stmt) {
    for c in &s.comments {
        let _ = writeln!(out, "{INDENT}//{c}");
    }
    for a in &s.attrs {
        let _ = writeln!(out, "{INDENT}{}", print_attr(a));
    }
    let (head, expr) = match &s.kind {
        StmtKind::Let { pat, value } => (format!("let {} = ", print_pattern(pat)), value),
        StmtKind::Return(e) => ("return ".to_string(), e),
    };
    let flat = format!("{INDENT}{head}{}", print_expr(expr, 0));
    let text = if flat.len() > MAX_WIDTH { broken_pipe(&head, expr).unwrap_or(flat) } else { flat };
    out.push_str(&text);
    if let Some(c) = &s.trailing {
        let _ = write!(out, "  //{c}");
    }
    out.push('\n');
}

/// `let y = x\n        |> a\n        |> b` for a pipe of at least two stages.
fn broken_pipe(head: &str, expr: &Expr) -> Option<String> {
    let mut stages = Vec::new();
    let mut cur = expr;
    while let ExprKind::Pipe { input, stage } = &cur.kind {
        stages.push(stage.as_ref());
        cur = input;
    }
    if stages.len() < 2 {
        return None;
    }
    let mut s = format!("{INDENT}{head}{}", print_expr(cur, PREC_PIPE));
    for st in stages.iter().rev() {
        let _ = write!(s, "\n{INDENT}{INDENT}|> {}", print_stage(st));
    }
    Some(s)
}

fn print_pattern(p: &Pattern) -> String {
    match p {
        Pattern::Name(i) => i.name.clone(),
        Pattern::Tuple(v, _) => {
            let names: Vec<&str> = v.iter().map(|i| i.name.as_str()).collect();
            format!("({})", names.join(", "))
        }
    }
}

const PREC_PIPE: u8 = 1;
const PREC_SUM: u8 = 2;
const PREC_PRODUCT: u8 = 3;
const PREC_UNARY: u8 = 4;

fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Pipe { .. } => PREC_PIPE,
        ExprKind::Binary { op: BinOp::Add | BinOp::Sub, .. } => PREC_SUM,
        ExprKind::Binary { .. } => PREC_PRODUCT,
        ExprKind::Neg(_) => PREC_UNARY,
        _ => 5,
    }
}

/// Print `e` in a position that needs at least precedence `min`, adding parentheses if needed.
pub fn print_expr(e: &Expr, min: u8) -> String {
    let s = print_expr_bare(e);
    if prec(e) < min { format!("({s})") } else { s }
}

fn print_expr_bare(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Name(n) => n.clone(),
        ExprKind::Int(i) => print_int(*i),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Str(s) => print_str(s),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::List(v) => format!("[{}]", join_exprs(v)),
        ExprKind::Tuple(v) => format!("({})", join_exprs(v)),
        ExprKind::Call { callee, args } => format!("{}({})", callee.name, print_args(args)),
        ExprKind::Pipe { input, stage } => format!("{} |> {}", print_expr(input, PREC_PIPE), print_stage(stage)),
        ExprKind::Binary { op, lhs, rhs } => {
            let (l, r) = match op {
                BinOp::Add | BinOp::Sub => (PREC_SUM, PREC_PRODUCT),
                BinOp::Mul | BinOp::Div => (PREC_PRODUCT, PREC_UNARY),
            };
            format!("{} {} {}", print_expr(lhs, l), op.symbol(), print_expr(rhs, r))
        }
        ExprKind::Neg(inner) => format!("-{}", print_expr(inner, PREC_UNARY)),
        ExprKind::Hole(h) => format!("{}({})", print_hole_head(h), join_exprs(&h.inputs)),
    }
}

fn join_exprs(v: &[Expr]) -> String {
    v.iter().map(|e| print_expr(e, 0)).collect::<Vec<_>>().join(", ")
}

fn print_int(i: IntLit) -> String {
    let div = match i.suffix {
        Some('k') => 1_000,
        Some('M') => 1_000_000,
        Some('G') => 1_000_000_000,
        _ => 1,
    };
    match i.suffix {
        Some(c) if i.value.is_multiple_of(div) => format!("{}{c}", i.value / div),
        _ => i.value.to_string(),
    }
}

fn print_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn print_args(args: &[Arg]) -> String {
    args.iter()
        .map(|a| match &a.name {
            Some(n) => format!("{}: {}", n.name, print_expr(&a.value, 0)),
            None => print_expr(&a.value, 0),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn print_stage(s: &Stage) -> String {
    match s {
        Stage::Call { callee, args, repeat, index, .. } => {
            let mut out = callee.name.clone();
            if !args.is_empty() {
                let _ = write!(out, "({})", print_args(args));
            }
            if let Some(r) = repeat {
                let rs = match &r.kind {
                    ExprKind::Int(_) | ExprKind::Name(_) => print_expr(r, 0),
                    _ => format!("({})", print_expr(r, PREC_SUM)),
                };
                let _ = write!(out, " * {rs}");
                if let Some(i) = index {
                    let _ = write!(out, " for {}", i.name);
                }
            }
            out
        }
        Stage::Hole(h) => print_hole_head(h),
    }
}

fn print_hole_head(h: &Hole) -> String {
    if h.constraints.is_empty() {
        return "?".to_string();
    }
    let cs: Vec<String> = h
        .constraints
        .iter()
        .map(|c| {
            let v = match &c.value {
                ConstraintValue::Any => "..".to_string(),
                ConstraintValue::Expr(e) => print_expr(e, PREC_SUM),
                ConstraintValue::Set(names, _) => {
                    let n: Vec<&str> = names.iter().map(|i| i.name.as_str()).collect();
                    format!("{{{}}}", n.join(", "))
                }
            };
            format!("{} {} {v}", c.name.name, c.op.symbol())
        })
        .collect();
    format!("?<{}>", cs.join(", "))
}
