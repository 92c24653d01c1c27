//! Fill every hole of a checked program and print the concrete program as `.nas` text.
//! A hole inside a block is filled once, on the block's own (symbolic) graph, so every call of
//! the block gets the same body.

use super::graph::{GraphFill, Junction, synthesize_graph};
use super::{Fill, SynthConfig, SynthError, synthesize};
use crate::check::{Checked, check};
use crate::diag::{Diagnostic, Span, codes as c};
use crate::ir::{Graph, HoleSpec, NodeKind};
use crate::ops::{AttrValue, DefaultValue, Padding, spec};
use crate::program::Program;
use crate::props::{ChainOp, Target};
use crate::shape::{Dim, Shape};
use crate::syntax::ast::{Arg, BinOp, Expr, ExprKind, File, Ident, IntLit, ItemKind, Stage};
use crate::syntax::{parse_expr, print_file, visit};

/// One filled hole.
#[derive(Clone, Debug)]
pub struct HoleFill {
    pub span: Span,
    pub block: String,
    pub line: usize,
    pub target: Target,
    /// The chain that fills a one-input hole; for a hole with several inputs, the tail after
    /// the junction (`graph` holds the rest).
    pub fill: Fill,
    pub graph: Option<GraphFill>,
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
            Ok((target, fill, graph)) => {
                let line = prog.sources.line_col(h.span.file, h.span.start).0;
                fills.push(HoleFill { span: h.span, block: h.block.clone(), line, target, fill, graph });
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

type Filling = (Target, Fill, Option<GraphFill>);

fn fill_one(g: &Graph, inputs: &[usize], output: Option<usize>, h: &HoleSpec, cfg: &SynthConfig) -> Result<Filling, Diagnostic> {
    let (Some(&input), Some(output)) = (inputs.first(), output) else {
        return Err(Diagnostic::error(c::HoleUnfillable, "a hole needs an input and a use", h.span));
    };
    if inputs.len() > 1 {
        return fill_graph(g, inputs, output, h, cfg);
    }
    let (ishape, oshape) = (g.shape(input).clone(), g.shape(output).clone());
    let target = Target::from_hole(h, &ishape, &oshape).map_err(|m| Diagnostic::error(c::BadConstraint, m, h.span))?;
    let resource = target.max_params.is_some() || target.max_macs.is_some();
    if resource && ishape.0.iter().skip(1).chain(oshape.0.iter().skip(1)).any(|d| !d.is_concrete()) {
        return Err(Diagnostic::error(c::HoleUnfillable, "a `params` or `macs` bound needs concrete shapes", h.span)
            .with_note(format!("this hole maps {ishape} to {oshape}"))
            .with_hint("put the bounded hole where the shapes are numbers, e.g. in the model"));
    }
    let maps = format!("the hole maps {ishape} to {oshape}");
    synthesize(&target, cfg).map(|fill| (target, fill, None)).map_err(|e| unfillable(e, h, maps))
}

fn unfillable(e: SynthError, h: &HoleSpec, maps: String) -> Diagnostic {
    match e {
        SynthError::Infeasible(why) => Diagnostic::error(c::HoleUnfillable, "this hole cannot be filled", h.span).with_primary_label(why).with_note(maps),
        e @ SynthError::NotFound { .. } => Diagnostic::error(c::HoleUnfillable, "no fill found for this hole", h.span)
            .with_primary_label(e.to_string())
            .with_note(maps)
            .with_hint("relax a constraint, or try another `--seed` or `--synth greedy`"),
    }
}

/// A hole with several inputs: one chain per input, a junction, a tail (see `synth::graph`).
/// Its constraints hold for every (input, output) pair.
fn fill_graph(g: &Graph, inputs: &[usize], output: usize, h: &HoleSpec, cfg: &SynthConfig) -> Result<Filling, Diagnostic> {
    let shapes: Vec<Shape> = inputs.iter().map(|&t| g.shape(t).clone()).collect();
    let oshape = g.shape(output).clone();
    // Each input's statement of the constraints must be valid (e.g. a mixing matrix's size).
    let targets = shapes.iter().map(|s| Target::from_hole(h, s, &oshape)).collect::<Result<Vec<_>, _>>();
    let targets = targets.map_err(|m| Diagnostic::error(c::BadConstraint, m, h.span))?;
    let template = targets.into_iter().next().ok_or_else(|| Diagnostic::error(c::HoleUnfillable, "a hole needs an input", h.span))?;
    if template.max_params.is_some() || template.max_macs.is_some() {
        return Err(Diagnostic::error(c::HoleUnfillable, "`params` and `macs` bounds are not supported on holes with several inputs yet", h.span)
            .with_hint("bound a one-input hole after combining the inputs, e.g. `?<params <= 10k>(a + b)`"));
    }
    let maps = format!("the hole maps {} to {oshape}", shapes.iter().map(Shape::to_string).collect::<Vec<_>>().join(" and "));
    let graph = synthesize_graph(&shapes, &template, cfg).map_err(|e| unfillable(e, h, maps))?;
    Ok((template, graph.tail.clone(), Some(graph)))
}

/// The expression a filled hole becomes, given its input expressions.
pub fn fill_expr(f: &HoleFill, inputs: &[Expr]) -> Option<Expr> {
    match &f.graph {
        None => Some(chain_expr(inputs.first()?.clone(), &f.fill.ops)),
        Some(g) => graph_expr(g, inputs, f.span),
    }
}

/// A multi-input fill as an expression over its input expressions:
/// `(a |> …) + (b |> …) |> …` or `concat([a |> …, b |> …], axis: -1) |> …`.
pub fn graph_expr(g: &GraphFill, inputs: &[Expr], span: Span) -> Option<Expr> {
    let branches: Vec<Expr> = inputs.iter().zip(&g.branches).map(|(input, b)| chain_expr(input.clone(), &b.ops)).collect();
    let joined = match g.junction {
        Junction::Add => branches.into_iter().reduce(|l, r| Expr { kind: ExprKind::Binary { op: BinOp::Add, lhs: Box::new(l), rhs: Box::new(r) }, span })?,
        Junction::Concat => {
            let axis = Arg { name: Some(Ident { name: "axis".into(), span }), value: dim_expr(&Dim::int(-1), span), span };
            let list = Arg { name: None, value: Expr { kind: ExprKind::List(branches), span }, span };
            Expr { kind: ExprKind::Call { callee: Ident { name: "concat".into(), span }, args: vec![list, axis] }, span }
        }
    };
    Some(chain_expr(joined, &g.tail.ops))
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
        ExprKind::Hole(h) => find(fills, h.span).and_then(|f| fill_expr(f, &h.inputs)),
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
    Stage::Call { callee: Ident { name: s.name.to_string(), span }, args, repeat: None, index: None, span }
}

fn is_default(d: Option<DefaultValue>, v: &AttrValue, attrs: &crate::ops::Attrs) -> bool {
    match (d, v) {
        (Some(DefaultValue::Int(i)), AttrValue::Int(x)) => x.as_int() == Some(i),
        (Some(DefaultValue::Float(f)), AttrValue::Float(x)) => *x == f,
        (Some(DefaultValue::Bool(b)), AttrValue::Bool(x)) => *x == b,
        (Some(DefaultValue::SameAs(o)), v) => attrs.get(o) == Some(v),
        (Some(DefaultValue::SamePadding), AttrValue::Padding(p)) => *p == Padding::Same,
        (Some(DefaultValue::NoInts), AttrValue::Ints(v)) => v.is_empty(),
        (Some(DefaultValue::PaddingIsExplicit), AttrValue::Bool(b)) => *b == attrs.padding_is_explicit(),
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
            ExprKind::List([top, bottom, left, right].iter().map(|n| dim_expr(n, span)).collect())
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
    let ops = stages(&f.fill.ops, f.span);
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
    let tail = if ops.is_empty() { "identity".to_string() } else { ops.join(" |> ") };
    let (what, achieved, steps) = match &f.graph {
        None => {
            let ch = &f.fill.chain;
            (tail, format!("depth {}, mixing {:?}, shape {}, params {}", ch.depth.value(), ch.mixing, ch.shape, ch.params), f.fill.steps)
        }
        Some(g) => {
            let branches: Vec<String> =
                g.branches.iter().enumerate().map(|(k, b)| format!("input {}: {}", k + 1, or_identity(stages(&b.ops, f.span)))).collect();
            let paths: Vec<String> =
                g.paths.iter().enumerate().map(|(k, p)| format!("from input {}: depth {}, mixing {:?}", k + 1, p.depth.value(), p.mixing)).collect();
            let params = g.paths.first().map_or_else(String::new, |p| format!("; shape {}, params {}", p.shape, p.params));
            (format!("{} of ({}) |> {tail}", g.junction.name(), branches.join("; ")), format!("{}{params}", paths.join("; ")), g.steps)
        }
    };
    format!(
        "hole in `{}` (line {}): {what}\n  target:   {}\n  achieved: {achieved}\n  search:   {steps} candidates, {:.3} ms\n",
        f.block,
        f.line,
        if want.is_empty() { "anything that type-checks".to_string() } else { want.join(", ") },
        f.fill.elapsed.as_secs_f64() * 1e3
    )
}

fn stages(ops: &[ChainOp], span: Span) -> Vec<String> {
    ops.iter().map(|o| crate::syntax::print::print_stage(&op_stage(o, span))).collect()
}

fn or_identity(ops: Vec<String>) -> String {
    if ops.is_empty() { "identity".to_string() } else { ops.join(" |> ") }
}

/// The per-hole facts as JSON (no timings, so the output depends only on the seed).
pub fn to_json(f: &HoleFill) -> serde_json::Value {
    let ops = stages(&f.fill.ops, f.span);
    let ch = &f.fill.chain;
    let graph = f.graph.as_ref().map(|g| {
        serde_json::json!({
            "junction": g.junction.name(),
            "branches": g.branches.iter().map(|b| stages(&b.ops, f.span)).collect::<Vec<_>>(),
            "paths": g.paths.iter().map(|p| serde_json::json!({ "depth": p.depth.value(), "mixing": p.mixing.rows_as_strings() })).collect::<Vec<_>>(),
            "params": g.paths.first().map(|p| p.params.to_string()),
        })
    });
    let mut v = serde_json::json!({
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
    });
    if let Some(g) = graph {
        v["graph"] = g;
    }
    v
}
