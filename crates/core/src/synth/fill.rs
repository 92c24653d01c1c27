//! Fill every hole of a checked program and print the concrete program as `.nas` text.
//! A hole inside a block is filled once, on the block's own (symbolic) graph, so every call of
//! the block gets the same body.

use super::{Fill, SynthConfig, SynthError, synthesize};
use crate::check::{Checked, check};
use crate::diag::{Diagnostic, Span, codes as c};
use crate::ir::{Graph, HoleSpec, NodeKind};
use crate::ops::{AttrValue, DefaultValue, Padding, spec};
use crate::program::Program;
use crate::props::{ChainOp, Target};
use crate::shape::{Dim, Shape};
use crate::syntax::ast::{Arg, Expr, ExprKind, File, Ident, IntLit, ItemKind, Stage};
use crate::syntax::{parse_expr, print_file, visit};

/// One filled hole.
#[derive(Clone, Debug)]
pub struct HoleFill {
    pub span: Span,
    pub block: String,
    pub line: usize,
    pub target: Target,
    pub fill: Fill,
}

/// The filled program: its text, the program re-checked from that text, and the fills.
#[derive(Clone, Debug)]
pub struct Filled {
    pub text: String,
    pub program: Program,
    pub checked: Checked,
    pub holes: Vec<HoleFill>,
}

/// Fill all holes of `prog` (already checked clean as `checked`).
pub fn fill_holes(prog: &Program, checked: &Checked, cfg: &SynthConfig) -> Result<Filled, Vec<Diagnostic>> {
    let mut fills: Vec<HoleFill> = Vec::new();
    let mut diags = Vec::new();
    for (k, (g, hole_node)) in holes_to_fill(checked).into_iter().enumerate() {
        let node = &g.nodes[hole_node];
        let NodeKind::Hole(h) = &node.kind else { continue };
        let cfg = SynthConfig { seed: cfg.seed.wrapping_add(k as u64).wrapping_mul(0x9E37_79B9), ..cfg.clone() };
        match fill_one(g, node.inputs.as_slice(), node.outputs.first().copied(), h, &cfg) {
            Ok((target, fill)) => {
                let line = prog.sources.line_col(h.span.file, h.span.start).0;
                fills.push(HoleFill { span: h.span, block: h.block.clone(), line, target, fill });
            }
            Err(d) => diags.push(d),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let Some(ast) = prog.root_ast() else { return Err(vec![]) };
    let mut ast = ast.clone();
    rewrite(&mut ast, &fills);
    let text = print_file(&ast);
    let name = prog.sources.get(prog.root).map(|f| f.name.clone()).unwrap_or_default();
    let program = Program::from_source_in(&name, &text, prog.root_dir().as_deref());
    let checked = check(&program);
    if checked.has_errors() {
        let mut d = checked.diagnostics.clone();
        d.push(Diagnostic::error(c::HoleUnfillable, "internal error: the filled program does not check", Span::new(prog.root, 0, 0)));
        return Err(d);
    }
    Ok(Filled { text, program, checked, holes: fills })
}

/// Each distinct hole once, preferring the graph of the block that defines it.
fn holes_to_fill(checked: &Checked) -> Vec<(&Graph, usize)> {
    let mut out: Vec<(&Graph, usize)> = Vec::new();
    let mut seen: Vec<(crate::diag::FileId, usize, usize)> = Vec::new();
    for own in [true, false] {
        for g in &checked.graphs {
            for (i, h) in g.holes() {
                if (h.block == g.name) == own && !seen.contains(&h.span.range()) {
                    seen.push(h.span.range());
                    out.push((g, i));
                }
            }
        }
    }
    out.sort_by_key(|(g, i)| g.nodes[*i].span.start);
    out
}

fn fill_one(g: &Graph, inputs: &[usize], output: Option<usize>, h: &HoleSpec, cfg: &SynthConfig) -> Result<(Target, Fill), Diagnostic> {
    let ([input], Some(output)) = (inputs, output) else {
        return Err(Diagnostic::error(c::HoleUnfillable, "holes with several inputs cannot be filled yet", h.span)
            .with_hint("give the hole one input, e.g. combine the inputs first with `+` or `concat`"));
    };
    let (ishape, oshape) = (g.shape(*input).clone(), g.shape(output).clone());
    let target = Target::from_hole(h, &ishape, &oshape).map_err(|m| Diagnostic::error(c::BadConstraint, m, h.span))?;
    let resource = target.max_params.is_some() || target.max_macs.is_some();
    if resource && ishape.0.iter().skip(1).chain(oshape.0.iter().skip(1)).any(|d| !d.is_concrete()) {
        return Err(Diagnostic::error(c::HoleUnfillable, "a `params` or `macs` bound needs concrete shapes", h.span)
            .with_note(format!("this hole maps {ishape} to {oshape}"))
            .with_hint("put the bounded hole where the shapes are numbers, e.g. in the model"));
    }
    match synthesize(&target, cfg) {
        Ok(fill) => Ok((target, fill)),
        Err(SynthError::Infeasible(why)) => Err(Diagnostic::error(c::HoleUnfillable, "this hole cannot be filled", h.span)
            .with_primary_label(why)
            .with_note(format!("the hole maps {ishape} to {oshape}"))),
        Err(e @ SynthError::NotFound { .. }) => Err(Diagnostic::error(c::HoleUnfillable, "no fill found for this hole", h.span)
            .with_primary_label(e.to_string())
            .with_hint("relax a constraint, or try another `--seed` or `--synth greedy`")),
    }
}

/// Replace each filled hole in the AST by its chain of ops.
fn rewrite(ast: &mut File, fills: &[HoleFill]) {
    for item in &mut ast.items {
        let ItemKind::Block(b) = &mut item.kind else { continue };
        for value in visit::body_values_mut(std::sync::Arc::make_mut(b)) {
            rewrite_expr(value, fills);
        }
    }
}

fn find(fills: &[HoleFill], span: Span) -> Option<&HoleFill> {
    fills.iter().find(|f| f.span.range() == span.range())
}

/// Inner holes first, then this expression if it is a filled hole (`?(x)` or `x |> ?`).
fn rewrite_expr(e: &mut Expr, fills: &[HoleFill]) {
    for c in visit::children_mut(e) {
        rewrite_expr(c, fills);
    }
    let filled = match &e.kind {
        ExprKind::Hole(h) => find(fills, h.span).zip(h.inputs.first()).map(|(f, input)| chain_expr(input.clone(), &f.fill.ops)),
        ExprKind::Pipe { input, stage } => match stage.as_ref() {
            Stage::Hole(h) => find(fills, h.span).map(|f| chain_expr((**input).clone(), &f.fill.ops)),
            Stage::Call { .. } => None,
        },
        _ => None,
    };
    if let Some(chain) = filled {
        *e = chain;
    }
}

/// `input |> op1 |> op2 ...`; the input alone for an empty chain.
pub fn chain_expr(input: Expr, ops: &[ChainOp]) -> Expr {
    let span = input.span;
    ops.iter().fold(input, |acc, op| Expr { kind: ExprKind::Pipe { input: Box::new(acc), stage: Box::new(op_stage(op, span)) }, span })
}

/// A pipe stage for one op: its first required argument positional, the others named, and
/// arguments equal to their default left out.
pub fn op_stage(op: &ChainOp, span: Span) -> Stage {
    let s = spec(op.op);
    let mut args = Vec::new();
    for (k, a) in s.args.iter().skip(s.tensor_args()).enumerate() {
        let Some(v) = op.attrs.get(a.name) else { continue };
        if is_default(a.default, v, &op.attrs) {
            continue;
        }
        let name = (k > 0 || a.default.is_some()).then(|| Ident { name: a.name.to_string(), span });
        args.push(Arg { name, value: value_expr(v, span), span });
    }
    Stage::Call { callee: Ident { name: s.name.to_string(), span }, args, repeat: None, span }
}

fn is_default(d: Option<DefaultValue>, v: &AttrValue, attrs: &crate::ops::Attrs) -> bool {
    match (d, v) {
        (Some(DefaultValue::Int(i)), AttrValue::Int(x)) => x.as_int() == Some(i),
        (Some(DefaultValue::Float(f)), AttrValue::Float(x)) => *x == f,
        (Some(DefaultValue::Bool(b)), AttrValue::Bool(x)) => *x == b,
        (Some(DefaultValue::SameAs(o)), v) => attrs.get(o) == Some(v),
        (Some(DefaultValue::SamePadding), AttrValue::Padding(p)) => *p == Padding::Same,
        (Some(DefaultValue::NoInts), AttrValue::Ints(v)) => v.is_empty(),
        _ => false,
    }
}

fn value_expr(v: &AttrValue, span: Span) -> Expr {
    let kind = match v {
        AttrValue::Int(d) => return dim_expr(d, span),
        AttrValue::Float(f) if *f < 0.0 => ExprKind::Neg(Box::new(Expr { kind: ExprKind::Float(-f), span })),
        AttrValue::Float(f) => ExprKind::Float(*f),
        AttrValue::Bool(b) => ExprKind::Bool(*b),
        AttrValue::Str(s) => ExprKind::Str(s.clone()),
        AttrValue::Ints(v) => ExprKind::List(v.iter().map(|d| dim_expr(d, span)).collect()),
        AttrValue::Padding(Padding::Same) => ExprKind::Name("same".into()),
        AttrValue::Padding(Padding::Valid) => ExprKind::Name("valid".into()),
        AttrValue::Padding(Padding::Explicit { top, bottom, left, right }) => {
            ExprKind::List([top, bottom, left, right].iter().map(|&&n| dim_expr(&Dim::int(n), span)).collect())
        }
    };
    Expr { kind, span }
}

/// A dim as source text: numbers as literals, symbolic dims through their printed form.
pub fn dim_expr(d: &Dim, span: Span) -> Expr {
    if let Some(n) = d.as_int() {
        let lit = Expr { kind: ExprKind::Int(IntLit { value: n.unsigned_abs(), suffix: None }), span };
        return if n < 0 { Expr { kind: ExprKind::Neg(Box::new(lit)), span } } else { lit };
    }
    let mut e = parse_expr(&d.to_string()).unwrap_or(Expr { kind: ExprKind::Name(d.to_string()), span });
    set_span(&mut e, span);
    e
}

fn set_span(e: &mut Expr, span: Span) {
    e.span = span;
    for c in visit::children_mut(e) {
        set_span(c, span);
    }
}

/// The per-hole report, one line per fact, for the terminal.
pub fn describe(f: &HoleFill) -> String {
    let ops: Vec<String> = f.fill.ops.iter().map(|o| crate::syntax::print::print_stage(&op_stage(o, f.span))).collect();
    let t = &f.target;
    let mut want = Vec::new();
    if let Some(d) = t.depth_min {
        want.push(format!("depth >= {d}"));
    }
    if let Some(d) = t.depth_max {
        want.push(format!("depth <= {d}"));
    }
    if let Some(m) = &t.mixing {
        want.push(format!("mixing >= {m:?}"));
    }
    if let Some(s) = &t.shape {
        want.push(format!("shape = {s}"));
    }
    if let Some(p) = t.max_params {
        want.push(format!("params <= {p}"));
    }
    if let Some(m) = t.max_macs {
        want.push(format!("macs <= {m}"));
    }
    let ch = &f.fill.chain;
    format!(
        "hole in `{}` (line {}): {}\n  target:   {}\n  achieved: depth {}, mixing {:?}, shape {}, params {}\n  search:   {} candidates, {:.3} ms\n",
        f.block,
        f.line,
        if ops.is_empty() { "identity".to_string() } else { ops.join(" |> ") },
        if want.is_empty() { "anything that type-checks".to_string() } else { want.join(", ") },
        ch.depth.value(),
        ch.mixing,
        ch.shape,
        ch.params,
        f.fill.steps,
        f.fill.elapsed.as_secs_f64() * 1e3
    )
}

/// The per-hole facts as JSON (no timings, so the output depends only on the seed).
pub fn to_json(f: &HoleFill) -> serde_json::Value {
    let ops: Vec<String> = f.fill.ops.iter().map(|o| crate::syntax::print::print_stage(&op_stage(o, f.span))).collect();
    let ch = &f.fill.chain;
    serde_json::json!({
        "block": f.block,
        "line": f.line,
        "ops": ops,
        "depth": ch.depth.value(),
        "mixing": ch.mixing.rows_as_strings(),
        "shape": ch.shape.to_string(),
        "params": ch.params.to_string(),
        "candidates": f.fill.steps,
        "target": {
            "depth_min": f.target.depth_min,
            "depth_max": f.target.depth_max,
            "mixing": f.target.mixing.as_ref().map(|m| m.rows_as_strings()),
            "shape": f.target.shape.as_ref().map(Shape::to_string),
            "params_max": f.target.max_params,
            "macs_max": f.target.max_macs,
        },
    })
}
