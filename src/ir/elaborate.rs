//! Elaboration: AST → graph IR, checking shapes as it goes.
//!
//! A block is elaborated once *generically* (its tensor parameters get their declared symbolic
//! shapes) and again, inlined, at every call with the caller's shapes; a model is elaborated with
//! its declared input shapes. Every failure is a diagnostic; the value that failed becomes
//! `Val::Error`, which later steps accept silently, so one mistake is reported once.

use super::{Bound, Graph, HoleConstraint, HoleSpec, MixingBound, Node, NodeKind, Scope, ScopeId, TensorId, TensorInfo};
use crate::diag::{Diagnostic, SourceMap, Span, codes as c};
use crate::ops::{self, ArgKind, AttrValue, Attrs, DefaultValue, OpKind, OpSpec};
use crate::program::{BlockEntry, Program};
use crate::shape::{Dim, Shape};
use crate::syntax::ast::{self, BinOp, CmpOp, ConstraintValue, Expr, ExprKind, Stage, StmtKind, TypeExpr};

/// The most times `|> f * n` may repeat a stage.
const MAX_REPEAT: i64 = 1000;

/// The most op nodes one check may inline to, over all its entries. Repeats and block calls
/// multiply (`R * 1000` of a block that repeats `* 1000`, or blocks calling the next twice), so
/// without a budget a short file can ask for billions of nodes (each costs about 1 KB). The
/// largest shipped example (ViT-S/16) has under 2,000.
pub const MAX_NODES: usize = 200_000;

#[derive(Clone, Debug)]
pub enum Val {
    Tensor(TensorId),
    Int(Dim),
    Float(f64),
    Bool(bool),
    Str(String),
    List(Vec<Val>),
    Tuple(Vec<Val>),
    /// A float parameter of a block checked generically: known only at its calls.
    AnyFloat,
    /// Something already reported as an error.
    Error,
}

impl Val {
    fn describe(&self) -> &'static str {
        match self {
            Val::Tensor(_) => "a tensor",
            Val::Int(_) => "an int",
            Val::Float(_) | Val::AnyFloat => "a float",
            Val::Bool(_) => "a bool",
            Val::Str(_) => "a string",
            Val::List(_) => "a list",
            Val::Tuple(_) => "a tuple",
            Val::Error => "an error",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BindKind {
    Let,
    TensorParam,
    Other,
}

struct Binding {
    name: String,
    val: Val,
    span: Span,
    used: bool,
    kind: BindKind,
}

#[derive(Default)]
struct Env {
    vars: Vec<Binding>,
    /// Name → its newest binding in `vars` (a block of 300,000 `let`s was quadratic without it).
    newest: std::collections::HashMap<String, usize>,
}

impl Env {
    fn bind(&mut self, name: &str, val: Val, span: Span, kind: BindKind) {
        self.newest.insert(name.to_string(), self.vars.len());
        self.vars.push(Binding { name: name.to_string(), val, span, used: false, kind });
    }
    fn lookup(&mut self, name: &str) -> Option<Val> {
        let b = &mut self.vars[*self.newest.get(name)?];
        b.used = true;
        Some(b.val.clone())
    }
    fn has(&self, name: &str) -> bool {
        self.newest.contains_key(name)
    }
}

/// When to give up checking early: the result is no longer wanted (the language server got a
/// newer version of the document) or a time budget ran out. The default never stops.
#[derive(Clone, Copy, Default)]
pub struct Stop<'a> {
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
    pub deadline: Option<std::time::Instant>,
}

impl Stop<'_> {
    pub fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    }
    pub fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| std::time::Instant::now() > d)
    }
}

/// Elaborates one entry (a model or a block checked generically) into one graph.
pub struct Elaborator<'p> {
    prog: &'p Program,
    pub graph: Graph,
    pub diags: Vec<Diagnostic>,
    /// Blocks being elaborated, outermost first, with the span of each call.
    stack: Vec<(String, Span)>,
    scope: ScopeId,
    /// Nodes this entry may still add (see `MAX_NODES`).
    budget: usize,
    stop: Stop<'p>,
    /// Set once the node budget is spent; every later call is then an error already reported.
    over_budget: bool,
    /// Unknown-name suggestions made so far (see `MAX_NAME_SUGGESTIONS`).
    suggestions: usize,
}

/// Elaborate `entry`: a model with its declared shapes, or a block generically, adding at most
/// `budget` op nodes (an error says so when it runs out).
pub fn elaborate<'p>(prog: &'p Program, entry: &BlockEntry, budget: usize, stop: Stop<'p>) -> (Graph, Vec<Diagnostic>) {
    let mut e = Elaborator { prog, graph: Graph::default(), diags: Vec::new(), stack: Vec::new(), scope: 0, budget, stop, over_budget: false, suggestions: 0 };
    e.graph.name = entry.def.name.name.clone();
    e.graph.scopes.push(Scope { block: e.graph.name.clone(), parent: None, call_span: entry.def.name.span, outputs: vec![] });
    e.stack.push((entry.def.name.name.clone(), entry.def.name.span));
    let mut env = Env::default();
    let inputs = e.bind_generic_params(&entry.def, &mut env);
    e.graph.inputs = inputs;
    e.graph.batch_symbol = e.graph.inputs.first().and_then(|&t| e.graph.tensors[t].shape.0.first()).and_then(|d| {
        let syms = d.symbols();
        (syms.len() == 1 && *d == Dim::sym(&syms[0])).then(|| syms[0].clone())
    });
    let out = e.body(&entry.def, &mut env);
    e.graph.outputs = tensors_of(&out);
    e.unused_warnings(&env);
    (e.graph, e.diags)
}

/// Is the value of `e` made by a hole (`?(x)` or `x |> ?`)?
fn ends_in_hole(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Hole(_) => true,
        ExprKind::Pipe { stage, .. } => matches!(**stage, Stage::Hole(_)),
        _ => false,
    }
}

fn tensors_of(v: &Val) -> Vec<TensorId> {
    match v {
        Val::Tensor(t) => vec![*t],
        Val::Tuple(vs) | Val::List(vs) => vs.iter().flat_map(tensors_of).collect(),
        _ => vec![],
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// `did you mean ...?` from the closest candidate, if close enough.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = |c: &str| (c.len().max(name.len()) / 3).max(1);
    // The length difference bounds the distance from below: most candidates are skipped cheaply.
    let best = candidates
        .into_iter()
        .filter(|c| c.len().abs_diff(name.len()) <= limit(c))
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d > 0 && *d <= limit(c))
        .min()?;
    Some(format!("did you mean `{}`?", best.1))
}

/// Unknown names get a suggestion each up to this many per entry: each one compares the name
/// with every name in scope, so 8,000 unknown names in a long block took seconds.
const MAX_NAME_SUGGESTIONS: usize = 100;

impl<'p> Elaborator<'p> {
    fn sources(&self) -> &SourceMap {
        &self.prog.sources
    }

    fn error(&mut self, d: Diagnostic) -> Val {
        self.diags.push(d);
        Val::Error
    }

    fn line_of(&self, span: Span) -> usize {
        self.sources().line_col(span.file, span.start).0
    }

    // ---- parameters and bodies ------------------------------------------------------------

    /// Bind a block's parameters for a generic check: shape names become symbols, ints without a
    /// default become symbols, defaults are used otherwise.
    fn bind_generic_params(&mut self, def: &ast::BlockDef, env: &mut Env) -> Vec<TensorId> {
        let mut inputs = Vec::new();
        for p in &def.params {
            match &p.ty {
                TypeExpr::Tensor(dims, span) => {
                    let mut shape = Vec::new();
                    for d in dims {
                        if let ExprKind::Name(n) = &d.kind {
                            if !env.has(n) {
                                env.bind(n, Val::Int(Dim::sym(n)), d.span, BindKind::Other);
                            }
                        }
                        shape.push(self.dim_expr(d, env, true));
                    }
                    let shape: Option<Vec<Dim>> = shape.into_iter().collect();
                    let val = match shape {
                        Some(s) => {
                            let t = self.new_tensor(Shape(s), None, *span);
                            inputs.push(t);
                            Val::Tensor(t)
                        }
                        None => Val::Error,
                    };
                    self.note_binding(p.name.span, &val);
                    env.bind(&p.name.name, val, p.name.span, BindKind::TensorParam);
                }
                TypeExpr::Scalar(ty) => {
                    let val = match (&p.default, ty.name.as_str()) {
                        (Some(d), _) if !def.is_model && ty.name == "int" => {
                            let _ = self.eval(d, env);
                            Val::Int(Dim::sym(&p.name.name))
                        }
                        (Some(d), _) => self.eval(d, env),
                        (None, "int") => Val::Int(Dim::sym(&p.name.name)),
                        (None, "float") => Val::AnyFloat,
                        (None, _) => Val::Error,
                    };
                    self.check_scalar_type(ty, &val, p.span);
                    env.bind(&p.name.name, val, p.name.span, BindKind::Other);
                }
                TypeExpr::Tuple(_, span) => {
                    self.error(Diagnostic::error(c::BadType, "a parameter cannot be a tuple", *span));
                    env.bind(&p.name.name, Val::Error, p.name.span, BindKind::Other);
                }
            }
        }
        inputs
    }

    /// Report an unknown type name or a value of the wrong type; `false` if reported.
    fn check_scalar_type(&mut self, ty: &ast::Ident, val: &Val, span: Span) -> bool {
        const TYPES: [&str; 4] = ["int", "float", "bool", "str"];
        if !TYPES.contains(&ty.name.as_str()) {
            let mut d = Diagnostic::error(c::BadType, format!("unknown type `{}`", ty.name), ty.span)
                .with_note("types are a shape like `[B, H, W, C]`, or `int`, `float`, `bool`, `str`");
            if let Some(h) = suggest(&ty.name, TYPES) {
                d = d.with_hint(h);
            }
            self.error(d);
            return false;
        }
        let ok = matches!(
            (ty.name.as_str(), val),
            (_, Val::Error)
                | ("int", Val::Int(_))
                | ("float", Val::Float(_) | Val::AnyFloat | Val::Int(_))
                | ("bool", Val::Bool(_))
                | ("str", Val::Str(_))
        );
        if !ok {
            self.error(
                Diagnostic::error(c::ArgType, format!("expected {}, found {}", ty.name, val.describe()), span)
                    .with_primary_label(format!("this is {}", val.describe()))
                    .with_label(ty.span, format!("declared `{}` here", ty.name)),
            );
        }
        ok
    }

    /// Elaborate the statements of a block; returns its output value.
    fn body(&mut self, def: &ast::BlockDef, env: &mut Env) -> Val {
        for stmt in &def.body {
            match &stmt.kind {
                StmtKind::Let { pat, value } => {
                    let v = self.eval(value, env);
                    self.bind_pattern(pat, v, env);
                }
                StmtKind::Return(e) => {
                    let expected = self.return_shape(&def.ret, env);
                    let v = self.eval_expecting(e, env, expected.as_ref());
                    self.check_return(def, e, &v, expected.as_ref(), env);
                    return v;
                }
            }
        }
        self.error(
            Diagnostic::error(c::NoReturn, format!("`{}` has no `return`", def.name.name), def.name.span)
                .with_hint("end the block with `return <value>`"),
        )
    }

    fn note_binding(&mut self, span: Span, v: &Val) {
        if let (Val::Tensor(t), true) = (v, self.stack.len() == 1) {
            self.graph.bindings.push((span, *t));
        }
    }

    fn bind_pattern(&mut self, pat: &ast::Pattern, v: Val, env: &mut Env) {
        match pat {
            ast::Pattern::Name(n) => {
                self.note_binding(n.span, &v);
                env.bind(&n.name, v, n.span, BindKind::Let)
            }
            ast::Pattern::Tuple(names, span) => {
                let parts = match v {
                    Val::Tuple(parts) if parts.len() == names.len() => parts,
                    Val::Error => vec![Val::Error; names.len()],
                    other => {
                        let found = match &other {
                            Val::Tuple(p) => format!("a tuple of {}", p.len()),
                            v => v.describe().to_string(),
                        };
                        self.error(Diagnostic::error(c::ArgType, format!("cannot unpack {found} into {} names", names.len()), *span));
                        vec![Val::Error; names.len()]
                    }
                };
                for (n, p) in names.iter().zip(parts) {
                    self.note_binding(n.span, &p);
                    env.bind(&n.name, p, n.span, BindKind::Let);
                }
            }
        }
    }

    /// The declared output shape, when it is a single tensor.
    fn return_shape(&mut self, ty: &TypeExpr, env: &mut Env) -> Option<Shape> {
        match ty {
            TypeExpr::Tensor(dims, _) => {
                let d: Option<Vec<Dim>> = dims.iter().map(|d| self.dim_expr(d, env, false)).collect();
                d.map(Shape)
            }
            _ => None,
        }
    }

    fn check_return(&mut self, def: &ast::BlockDef, e: &Expr, v: &Val, expected: Option<&Shape>, env: &mut Env) {
        match (&def.ret, v) {
            (_, Val::Error) => {}
            (TypeExpr::Tensor(_, tspan), Val::Tensor(t)) => {
                let Some(want) = expected else { return };
                let got = self.graph.shape(*t).clone();
                if &got != want {
                    let mut d = Diagnostic::error(
                        c::ReturnMismatch,
                        format!("`{}` returns {got} but its signature says {want}", def.name.name),
                        e.span,
                    )
                    .with_primary_label(format!("this is {got}"))
                    .with_label(*tspan, format!("declared {want}"));
                    if let Some(n) = self.origin_note(*t) {
                        d = d.with_note(n);
                    }
                    self.error(d);
                }
            }
            (TypeExpr::Tuple(types, tspan), Val::Tuple(vals)) => {
                if types.len() != vals.len() {
                    let msg = format!("`{}` returns {} values but its signature says {}", def.name.name, vals.len(), types.len());
                    self.error(Diagnostic::error(c::ReturnMismatch, msg, e.span).with_label(*tspan, "declared here"));
                    return;
                }
                for (k, (ty, val)) in types.iter().zip(vals).enumerate() {
                    let want = self.return_shape(ty, env);
                    if let (Some(want), Val::Tensor(t)) = (want, val) {
                        let got = self.graph.shape(*t).clone();
                        if got != want {
                            let msg = format!("output {k} of `{}` is {got} but its signature says {want}", def.name.name);
                            self.error(Diagnostic::error(c::ReturnMismatch, msg, e.span).with_label(ty.span(), format!("declared {want}")));
                        }
                    }
                }
            }
            (TypeExpr::Scalar(ty), v) => {
                self.check_scalar_type(ty, v, e.span);
            }
            (ty, v) => {
                let msg = format!("`{}` returns {} but its signature says {}", def.name.name, v.describe(), crate::syntax::print::print_type(ty));
                self.error(Diagnostic::error(c::ReturnMismatch, msg, e.span).with_label(ty.span(), "declared here"));
            }
        }
    }

    fn unused_warnings(&mut self, env: &Env) {
        for b in &env.vars {
            if b.used || b.name.starts_with('_') {
                continue;
            }
            match b.kind {
                BindKind::Let => {
                    let d = Diagnostic::warning(c::UnusedBinding, format!("unused binding `{}`", b.name), b.span)
                        .with_primary_label("never read")
                        .with_hint(format!("use it, or rename it to `_{}`", b.name));
                    self.diags.push(d);
                }
                BindKind::TensorParam => {
                    let d = Diagnostic::warning(c::UnusedParam, format!("unused parameter `{}`", b.name), b.span)
                        .with_primary_label("never read")
                        .with_hint(format!("use it, or rename it to `_{}`", b.name));
                    self.diags.push(d);
                }
                BindKind::Other => {}
            }
        }
    }

    // ---- tensors and provenance ----------------------------------------------------------

    fn new_tensor(&mut self, shape: Shape, producer: Option<(usize, usize)>, span: Span) -> TensorId {
        self.graph.tensors.push(TensorInfo { shape, producer, span });
        self.graph.tensors.len() - 1
    }

    /// "[B, 16, 16, 64] comes from `conv` on line 5".
    fn origin_note(&self, t: TensorId) -> Option<String> {
        let info = self.graph.tensors.get(t)?;
        let (node, _) = info.producer?;
        let n = &self.graph.nodes[node];
        let what = match &n.kind {
            NodeKind::Op { op, .. } => format!("`{op}`"),
            NodeKind::Hole(_) => "a hole".to_string(),
        };
        let file = self.sources().get(n.span.file).map(|f| f.name.clone()).unwrap_or_default();
        Some(format!("{} comes from {what} at {file}:{}", info.shape, self.line_of(n.span)))
    }

    // ---- expressions ---------------------------------------------------------------------

    fn eval(&mut self, e: &Expr, env: &mut Env) -> Val {
        self.eval_expecting(e, env, None)
    }

    /// `expected` is the shape the value must have; a hole with no `shape` constraint takes it.
    fn eval_expecting(&mut self, e: &Expr, env: &mut Env, expected: Option<&Shape>) -> Val {
        match &e.kind {
            ExprKind::Name(n) => {
                let v = self.name(n, e.span, env);
                self.note_binding(e.span, &v);
                v
            }
            ExprKind::Int(i) => Val::Int(Dim::int(i.value as i64)),
            ExprKind::Float(f) => Val::Float(*f),
            ExprKind::Str(s) => Val::Str(s.clone()),
            ExprKind::Bool(b) => Val::Bool(*b),
            ExprKind::List(v) => Val::List(v.iter().map(|x| self.eval(x, env)).collect()),
            ExprKind::Tuple(v) => Val::Tuple(v.iter().map(|x| self.eval(x, env)).collect()),
            ExprKind::Call { callee, args } => {
                let args = self.eval_args(args, env);
                self.call(callee, None, args, e.span)
            }
            ExprKind::Pipe { input, stage } => {
                let x = self.eval(input, env);
                self.stage(stage, x, input.span, env, expected)
            }
            ExprKind::Binary { op, lhs, rhs } => {
                // A hole operand takes the shape of the other operand (where its value is used).
                let (a, b) = if ends_in_hole(lhs) && !ends_in_hole(rhs) {
                    let b = self.eval(rhs, env);
                    let want = self.tensor_shape(&b);
                    (self.eval_expecting(lhs, env, want.as_ref()), b)
                } else {
                    let a = self.eval(lhs, env);
                    let want = self.tensor_shape(&a).filter(|_| ends_in_hole(rhs));
                    (a, self.eval_expecting(rhs, env, want.as_ref()))
                };
                self.binary(*op, (a, lhs.span), (b, rhs.span), e.span)
            }
            ExprKind::Neg(x) => match self.eval(x, env) {
                Val::Int(d) => Val::Int(d.neg()),
                Val::Float(f) => Val::Float(-f),
                Val::Error => Val::Error,
                v => self.error(Diagnostic::error(c::BadOperator, format!("cannot negate {}", v.describe()), e.span)),
            },
            ExprKind::Hole(h) => {
                let inputs: Vec<(Val, Span)> = h.inputs.iter().map(|x| (self.eval(x, env), x.span)).collect();
                self.hole(h, inputs, expected, env)
            }
        }
    }

    fn tensor_shape(&self, v: &Val) -> Option<Shape> {
        match v {
            Val::Tensor(t) => Some(self.graph.shape(*t).clone()),
            _ => None,
        }
    }

    fn name(&mut self, n: &str, span: Span, env: &mut Env) -> Val {
        if let Some(v) = env.lookup(n) {
            return v;
        }
        if ops::lookup(n).is_some() || self.prog.block(n).is_some() {
            return self.error(
                Diagnostic::error(c::UnknownName, format!("`{n}` is an op or block, not a value"), span)
                    .with_hint(format!("call it: `x |> {n}` or `{n}(x)`")),
            );
        }
        let mut d = Diagnostic::error(c::UnknownName, format!("cannot find value `{n}` in this scope"), span)
            .with_primary_label("not found");
        self.suggestions += 1;
        let hint = (self.suggestions <= MAX_NAME_SUGGESTIONS).then(|| suggest(n, env.vars.iter().map(|b| b.name.as_str()))).flatten();
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.error(d)
    }

    /// An expression used as a dim (in a type or a shape list). `auto` binds unknown names as
    /// new symbols (generic checking of a block signature).
    fn dim_expr(&mut self, e: &Expr, env: &mut Env, auto: bool) -> Option<Dim> {
        if auto {
            if let ExprKind::Name(n) = &e.kind {
                if !env.has(n) {
                    env.bind(n, Val::Int(Dim::sym(n)), e.span, BindKind::Other);
                }
            }
        }
        match self.eval(e, env) {
            Val::Int(d) => Some(d),
            Val::Error => None,
            v => {
                self.error(Diagnostic::error(c::BadType, format!("a dim must be an int, found {}", v.describe()), e.span));
                None
            }
        }
    }

    fn binary(&mut self, op: BinOp, (a, sa): (Val, Span), (b, sb): (Val, Span), span: Span) -> Val {
        match (a, b) {
            (Val::Error, _) | (_, Val::Error) => Val::Error,
            (Val::Int(x), Val::Int(y)) => self.dim_arith(op, &x, &y, span),
            (Val::Tensor(x), Val::Tensor(y)) => {
                let kind = match op {
                    BinOp::Add => OpKind::Add,
                    BinOp::Mul => OpKind::Mul,
                    BinOp::Sub | BinOp::Div => {
                        let msg = format!("`{}` does not apply to tensors", op.symbol());
                        return self.error(Diagnostic::error(c::BadOperator, msg, span).with_hint("tensors support `+` and `*` (element-wise); use `scale(-1.0)` to negate"));
                    }
                };
                self.apply_op(ops::spec(kind), vec![(x, sa), (y, sb)], Attrs::default(), span, Some(op.symbol()))
            }
            (x @ (Val::Int(_) | Val::Float(_)), y @ (Val::Int(_) | Val::Float(_))) => {
                let f = |v: &Val| match v {
                    Val::Float(f) => *f,
                    Val::Int(d) => d.as_int().map_or(f64::NAN, |i| i as f64),
                    _ => f64::NAN,
                };
                let (x, y) = (f(&x), f(&y));
                Val::Float(match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div => x / y,
                })
            }
            (Val::AnyFloat, _) | (_, Val::AnyFloat) => Val::AnyFloat,
            (x, y) => {
                let msg = format!("cannot apply `{}` to {} and {}", op.symbol(), x.describe(), y.describe());
                let mut d = Diagnostic::error(c::BadOperator, msg, span)
                    .with_label(sa, x.describe())
                    .with_label(sb, y.describe());
                if matches!((&x, &y), (Val::Tensor(_), Val::Int(_) | Val::Float(_)) | (Val::Int(_) | Val::Float(_), Val::Tensor(_))) {
                    d = d.with_hint("multiply a tensor by a constant with `scale(s)`");
                }
                self.error(d)
            }
        }
    }

    fn dim_arith(&mut self, op: BinOp, x: &Dim, y: &Dim, span: Span) -> Val {
        let r = match op {
            BinOp::Add => x.add(y),
            BinOp::Sub => x.sub(y),
            BinOp::Mul => x.mul(y),
            BinOp::Div => x.div(y),
        };
        match r {
            Ok(d) if d.is_fractional() => self.error(
                Diagnostic::error(c::InexactDiv, format!("{x} is not divisible by {y}"), span)
                    .with_primary_label(format!("this is {d}, not a whole number"))
                    .with_note("dims are whole numbers; division must be exact"),
            ),
            Ok(d) => Val::Int(d),
            Err(e) => self.error(Diagnostic::error(c::DimArith, format!("cannot compute `{x} {} {y}`: {e}", op.symbol()), span)),
        }
    }

    // ---- calls -----------------------------------------------------------------------------

    fn eval_args(&mut self, args: &[ast::Arg], env: &mut Env) -> Vec<ArgVal> {
        args.iter()
            .map(|a| ArgVal { name: a.name.clone(), val: self.eval(&a.value, env), span: a.value.span })
            .collect()
    }

    fn stage(&mut self, stage: &Stage, x: Val, xspan: Span, env: &mut Env, expected: Option<&Shape>) -> Val {
        match stage {
            Stage::Hole(h) => self.hole(h, vec![(x, xspan)], expected, env),
            Stage::Call { callee, args, repeat, span } => {
                let times = match repeat {
                    None => 1,
                    Some(r) => match self.eval(r, env) {
                        Val::Int(d) => match d.as_int() {
                            Some(n) if (0..=MAX_REPEAT).contains(&n) => n,
                            _ => {
                                let msg = format!("repeat count must be a known integer from 0 to {MAX_REPEAT}, found {d}");
                                return self.error(Diagnostic::error(c::BadArgValue, msg, r.span));
                            }
                        },
                        Val::Error => return Val::Error,
                        v => {
                            let msg = format!("repeat count must be an int, found {}", v.describe());
                            return self.error(Diagnostic::error(c::ArgType, msg, r.span));
                        }
                    },
                };
                let args = self.eval_args(args, env);
                let mut cur = x;
                for _ in 0..times {
                    if matches!(cur, Val::Error) {
                        return Val::Error;
                    }
                    let piped = ArgVal { name: None, val: cur, span: xspan };
                    cur = self.call(callee, Some(piped), args.clone(), *span);
                }
                cur
            }
        }
    }

    fn call(&mut self, callee: &ast::Ident, piped: Option<ArgVal>, args: Vec<ArgVal>, span: Span) -> Val {
        if self.over_budget {
            return Val::Error;
        }
        let mut all: Vec<ArgVal> = piped.into_iter().collect();
        all.extend(args);
        if let Some(spec) = ops::lookup(&callee.name) {
            return self.call_op(spec, all, span);
        }
        if let Some(entry) = self.prog.block(&callee.name) {
            return self.call_block(entry, all, span);
        }
        let candidates: Vec<&str> = ops::catalog()
            .iter()
            .map(|s| s.name)
            .chain(self.prog.blocks.iter().map(|b| b.def.name.name.as_str()))
            .collect();
        let mut d = Diagnostic::error(c::UnknownCallee, format!("unknown op or block `{}`", callee.name), callee.span)
            .with_primary_label("not an op of the catalog nor a block in scope");
        if let Some(h) = suggest(&callee.name, candidates) {
            d = d.with_hint(h);
        } else {
            d = d.with_hint("blocks of the stdlib need an import, e.g. `use std.resnet`");
        }
        self.error(d)
    }

    /// Match arguments to parameters by position and name. `None` when an error was reported.
    /// `sig` renders the signature for messages (only computed on an error).
    fn bind_args(&mut self, what: &str, sig: &dyn Fn() -> String, params: &[(String, bool)], args: Vec<ArgVal>, span: Span) -> Option<Vec<Option<ArgVal>>> {
        let mut slots: Vec<Option<ArgVal>> = vec![None; params.len()];
        let mut ok = true;
        let mut next = 0;
        for a in args {
            let k = match &a.name {
                None => {
                    let k = next;
                    next += 1;
                    if k >= params.len() {
                        let msg = format!("too many arguments to `{what}`: it takes {}", params.len());
                        self.error(Diagnostic::error(c::TooManyArgs, msg, a.span).with_primary_label("extra argument").with_note(format!("signature: {}", sig())));
                        ok = false;
                        continue;
                    }
                    k
                }
                Some(n) => match params.iter().position(|(p, _)| *p == n.name) {
                    Some(k) => k,
                    None => {
                        let names: Vec<&str> = params.iter().map(|(p, _)| p.as_str()).collect();
                        let mut d = Diagnostic::error(c::UnknownArg, format!("`{what}` has no argument `{}`", n.name), n.span)
                            .with_primary_label("unknown argument")
                            .with_note(format!("signature: {}", sig()));
                        if let Some(h) = suggest(&n.name, names) {
                            d = d.with_hint(h);
                        }
                        self.error(d);
                        ok = false;
                        continue;
                    }
                },
            };
            if slots[k].is_some() {
                let msg = format!("argument `{}` of `{what}` is given twice", params[k].0);
                self.error(Diagnostic::error(c::DuplicateArg, msg, a.span).with_primary_label("given again here"));
                ok = false;
                continue;
            }
            slots[k] = Some(a);
        }
        for (k, (name, has_default)) in params.iter().enumerate() {
            if slots[k].is_none() && !has_default && ok {
                let msg = format!("`{what}` is missing argument `{name}`");
                self.error(Diagnostic::error(c::MissingArg, msg, span).with_primary_label(format!("needs `{name}`")).with_note(format!("signature: {}", sig())));
                ok = false;
            }
        }
        ok.then_some(slots)
    }

    fn call_op(&mut self, spec: &'static OpSpec, args: Vec<ArgVal>, span: Span) -> Val {
        if args.iter().any(|a| matches!(a.val, Val::Error)) {
            return Val::Error;
        }
        let params: Vec<(String, bool)> = spec.args.iter().map(|a| (a.name.to_string(), a.default.is_some())).collect();
        let Some(slots) = self.bind_args(spec.name, &|| spec.signature(), &params, args, span) else { return Val::Error };
        let mut tensors: Vec<(TensorId, Span)> = Vec::new();
        let mut attrs = Attrs::default();
        for (a, slot) in spec.args.iter().zip(slots) {
            let value = match slot {
                Some(v) => v,
                None => match a.default {
                    Some(DefaultValue::SameAs(other)) => {
                        let v = attrs.get(other).cloned().unwrap_or(AttrValue::Int(Dim::one()));
                        attrs.0.push((a.name, v));
                        continue;
                    }
                    Some(DefaultValue::Int(i)) => ArgVal::plain(Val::Int(Dim::int(i)), span),
                    Some(DefaultValue::Float(f)) => ArgVal::plain(Val::Float(f), span),
                    Some(DefaultValue::Bool(b)) => ArgVal::plain(Val::Bool(b), span),
                    None => return Val::Error,
                },
            };
            match self.convert(spec.name, a.name, a.kind, &value) {
                Converted::Tensors(ts) => tensors.extend(ts),
                Converted::Attr(v) => attrs.0.push((a.name, v)),
                Converted::Failed => return Val::Error,
            }
        }
        self.apply_op(spec, tensors, attrs, span, None)
    }

    fn convert(&mut self, op: &str, arg: &str, kind: ArgKind, a: &ArgVal) -> Converted {
        let got = match (kind, &a.val) {
            (ArgKind::Tensor, Val::Tensor(t)) => return Converted::Tensors(vec![(*t, a.span)]),
            (ArgKind::Tensors, Val::List(vs)) if vs.iter().all(|v| matches!(v, Val::Tensor(_))) && !vs.is_empty() => {
                return Converted::Tensors(tensors_of(&a.val).into_iter().map(|t| (t, a.span)).collect());
            }
            (ArgKind::Int, Val::Int(d)) => return Converted::Attr(AttrValue::Int(d.clone())),
            (ArgKind::Float, Val::Float(f)) => return Converted::Attr(AttrValue::Float(*f)),
            (ArgKind::Float, Val::AnyFloat) => return Converted::Attr(AttrValue::Float(f64::NAN)),
            (ArgKind::Float, Val::Int(d)) if d.as_int().is_some() => {
                return Converted::Attr(AttrValue::Float(d.as_int().unwrap_or(0) as f64));
            }
            (ArgKind::Bool, Val::Bool(b)) => return Converted::Attr(AttrValue::Bool(*b)),
            (ArgKind::Str, Val::Str(s)) => return Converted::Attr(AttrValue::Str(s.clone())),
            (ArgKind::Ints, Val::List(vs)) if vs.iter().all(|v| matches!(v, Val::Int(_))) => {
                let dims = vs.iter().filter_map(|v| if let Val::Int(d) = v { Some(d.clone()) } else { None }).collect();
                return Converted::Attr(AttrValue::Ints(dims));
            }
            (_, Val::Error) => return Converted::Failed,
            (_, v) => v.describe(),
        };
        let msg = format!("argument `{arg}` of `{op}` must be {kind}, found {got}");
        let mut d = Diagnostic::error(c::ArgType, msg, a.span).with_primary_label(format!("this is {got}"));
        if kind == ArgKind::Tensor {
            d = d.with_hint(format!("pipe a tensor in: `x |> {op}(...)`"));
        }
        self.error(d);
        Converted::Failed
    }

    fn apply_op(&mut self, spec: &'static OpSpec, inputs: Vec<(TensorId, Span)>, attrs: Attrs, span: Span, symbol: Option<&str>) -> Val {
        if self.graph.nodes.len() >= self.budget {
            return self.budget_spent(span);
        }
        // Checked every 256 nodes: an atomic load and a clock read cost next to nothing then.
        if self.graph.nodes.len() % 256 == 255 && (self.stop.cancelled() || self.stop.past_deadline()) {
            self.over_budget = true;
            return Val::Error;
        }
        let shapes: Vec<Shape> = inputs.iter().map(|(t, _)| self.graph.shape(*t).clone()).collect();
        match (spec.shape)(&shapes, &attrs) {
            Ok(outs) => {
                let node = self.graph.nodes.len();
                let outputs: Vec<TensorId> = outs.into_iter().enumerate().map(|(k, s)| self.new_tensor(s, Some((node, k)), span)).collect();
                let ins = inputs.iter().map(|(t, _)| *t).collect();
                let n = Node { kind: NodeKind::Op { op: spec.kind, attrs }, inputs: ins, outputs: outputs.clone(), span, scope: self.scope };
                self.graph.nodes.push(n);
                match outputs.as_slice() {
                    [one] if spec.kind != OpKind::Split => Val::Tensor(*one),
                    many => Val::Tuple(many.iter().map(|t| Val::Tensor(*t)).collect()),
                }
            }
            Err(e) => {
                let name = symbol.unwrap_or(spec.name);
                let message = if e.code == c::ShapeMismatch { format!("shape mismatch in `{name}`") } else { e.message.clone() };
                let mut d = Diagnostic::error(e.code, message, span).with_primary_label(format!("in this `{name}`"));
                if e.code == c::ShapeMismatch {
                    d = d.with_note(e.message.clone());
                }
                let shown: Vec<usize> = match e.input {
                    Some(k) => vec![k],
                    None => (0..inputs.len()).collect(),
                };
                for k in shown {
                    if let Some((t, s)) = inputs.get(k) {
                        d = d.with_label(*s, self.graph.shape(*t).to_string());
                        if let Some(n) = self.origin_note(*t) {
                            d = d.with_note(n);
                        }
                    }
                }
                if let Some(h) = e.hint {
                    d = d.with_hint(h);
                }
                self.error(d)
            }
        }
    }

    /// The node budget is spent: one diagnostic naming the call chain that got here.
    fn budget_spent(&mut self, span: Span) -> Val {
        self.over_budget = true;
        let chain: Vec<&str> = self.stack.iter().map(|(b, _)| b.as_str()).collect();
        self.error(
            Diagnostic::error(c::TooLarge, format!("the program inlines to more than {MAX_NODES} ops"), span)
                .with_primary_label("the budget ran out here")
                .with_note(format!("call chain: {}", chain.join(" → ")))
                .with_hint("blocks and repeats are inlined, and nested repeats multiply: check the repeat counts"),
        )
    }

    fn call_block(&mut self, entry: &'p BlockEntry, args: Vec<ArgVal>, span: Span) -> Val {
        let def = &entry.def;
        let name = def.name.name.clone();
        if let Some(pos) = self.stack.iter().position(|(b, _)| *b == name) {
            let chain: Vec<String> = self.stack[pos..].iter().map(|(b, _)| b.clone()).chain([name.clone()]).collect();
            return self.error(
                Diagnostic::error(c::RecursiveBlock, format!("block `{name}` calls itself"), span)
                    .with_primary_label("recursive call")
                    .with_label(def.name.span, "defined here")
                    .with_note(format!("call chain: {}", chain.join(" → ")))
                    .with_hint("blocks are inlined, so they cannot recurse; use repetition: `x |> Block * n`"),
            );
        }
        if args.iter().any(|a| matches!(a.val, Val::Error)) {
            return Val::Error;
        }
        let params: Vec<(String, bool)> = def.params.iter().map(|p| (p.name.name.clone(), p.default.is_some())).collect();
        let sig = || format!("{name}({})", def.params.iter().map(|p| p.name.name.as_str()).collect::<Vec<_>>().join(", "));
        let Some(slots) = self.bind_args(&name, &sig, &params, args, span) else { return Val::Error };

        let parent = self.scope;
        self.graph.scopes.push(Scope { block: name.clone(), parent: Some(parent), call_span: span, outputs: vec![] });
        self.scope = self.graph.scopes.len() - 1;
        self.stack.push((name.clone(), span));
        let before = self.diags.len();
        let out = self.instantiate(def, slots, span);
        for d in &mut self.diags[before..] {
            let at_call = d.primary.span.file == span.file && d.primary.span.start >= span.start && d.primary.span.end <= span.end;
            if d.notes.len() < 8 && !at_call {
                let line = self.prog.sources.line_col(span.file, span.start).0;
                let file = self.prog.sources.get(span.file).map(|f| f.name.clone()).unwrap_or_default();
                d.notes.push(format!("in the call of `{name}` at {file}:{line}"));
            }
        }
        self.stack.pop();
        let scope = self.scope;
        self.graph.scopes[scope].outputs = tensors_of(&out);
        self.scope = parent;
        out
    }

    /// Bind a call's arguments in the callee and elaborate its body.
    fn instantiate(&mut self, def: &ast::BlockDef, slots: Vec<Option<ArgVal>>, span: Span) -> Val {
        let mut env = Env::default();
        // Ints first: a shape may mention them (`[B, N, heads*d]`).
        for (p, slot) in def.params.iter().zip(&slots) {
            if let (TypeExpr::Scalar(ty), Some(a)) = (&p.ty, slot) {
                if !self.check_scalar_type(ty, &a.val, a.span) {
                    return Val::Error;
                }
                env.bind(&p.name.name, a.val.clone(), p.name.span, BindKind::Other);
            }
        }
        for (p, slot) in def.params.iter().zip(&slots) {
            if let (TypeExpr::Tensor(dims, tspan), Some(a)) = (&p.ty, slot) {
                if !self.match_shape(def, p, dims, *tspan, a, &mut env) {
                    return Val::Error;
                }
                env.bind(&p.name.name, a.val.clone(), p.name.span, BindKind::Other);
            }
        }
        for (p, slot) in def.params.iter().zip(&slots) {
            if let (None, Some(d)) = (slot, &p.default) {
                let v = self.eval(d, &mut env);
                env.bind(&p.name.name, v, p.name.span, BindKind::Other);
            }
        }
        let _ = span;
        self.body(def, &mut env)
    }

    /// Match an argument's shape against a parameter's declared shape, binding new names.
    fn match_shape(&mut self, def: &ast::BlockDef, p: &ast::Param, dims: &[Expr], tspan: Span, a: &ArgVal, env: &mut Env) -> bool {
        let Val::Tensor(t) = a.val else {
            let msg = format!("argument `{}` of `{}` must be a tensor, found {}", p.name.name, def.name.name, a.val.describe());
            self.error(Diagnostic::error(c::ArgType, msg, a.span));
            return false;
        };
        let actual = self.graph.shape(t).clone();
        let declared = crate::syntax::print::print_type(&p.ty);
        if actual.rank() != dims.len() {
            let msg = format!("`{}` expects `{}` of rank {} {declared}, found rank {} {actual}", def.name.name, p.name.name, dims.len(), actual.rank());
            self.error(Diagnostic::error(c::Rank, msg, a.span).with_primary_label(actual.to_string()).with_label(tspan, "declared here"));
            return false;
        }
        for (k, (e, got)) in dims.iter().zip(&actual.0).enumerate() {
            if let ExprKind::Name(n) = &e.kind {
                if !env.has(n) {
                    env.bind(n, Val::Int(got.clone()), e.span, BindKind::Other);
                    continue;
                }
            }
            let want = match self.eval(e, env) {
                Val::Int(d) => d,
                _ => return false,
            };
            if &want != got {
                let msg = format!("`{}` expects `{}: {declared}`, found {actual}", def.name.name, p.name.name);
                let mut d = Diagnostic::error(c::ShapeMismatch, msg, a.span)
                    .with_primary_label(format!("this is {actual}"))
                    .with_label(e.span, format!("dim {k} must be {want}, found {got}"));
                if let Some(n) = self.origin_note(t) {
                    d = d.with_note(n);
                }
                self.error(d);
                return false;
            }
        }
        true
    }

    // ---- holes -----------------------------------------------------------------------------

    fn hole(&mut self, h: &ast::Hole, inputs: Vec<(Val, Span)>, expected: Option<&Shape>, env: &mut Env) -> Val {
        let constraints = self.hole_constraints(h, env);
        let mut ins = Vec::new();
        for (v, s) in &inputs {
            match v {
                Val::Tensor(t) => ins.push(*t),
                Val::Error => return Val::Error,
                v => {
                    let msg = format!("hole inputs must be tensors, found {}", v.describe());
                    return self.error(Diagnostic::error(c::ArgType, msg, *s));
                }
            }
        }
        if ins.is_empty() {
            return self.error(Diagnostic::error(c::MissingArg, "a hole needs at least one input", h.span).with_hint("write `?<...>(x)` or `x |> ?<...>`"));
        }
        let Some(constraints) = constraints else { return Val::Error };
        let shape = constraints.iter().find_map(|c| if let HoleConstraint::Shape(s) = c { Some(s.clone()) } else { None });
        let Some(shape) = shape.or_else(|| expected.cloned()) else {
            return self.error(
                Diagnostic::error(c::HoleShape, "cannot tell the output shape of this hole", h.span)
                    .with_note("a hole's shape comes from its `shape = [..]` constraint, from being returned, or from the other operand of `+` or `*`")
                    .with_hint("add a constraint such as `shape = [B, H, W, C]`"),
            );
        };
        let block = self.stack.last().map(|(b, _)| b.clone()).unwrap_or_default();
        let node = self.graph.nodes.len();
        let out = self.new_tensor(shape, Some((node, 0)), h.span);
        let spec = HoleSpec { constraints, block, span: h.span };
        self.graph.nodes.push(Node { kind: NodeKind::Hole(spec), inputs: ins, outputs: vec![out], span: h.span, scope: self.scope });
        Val::Tensor(out)
    }

    fn hole_constraints(&mut self, h: &ast::Hole, env: &mut Env) -> Option<Vec<HoleConstraint>> {
        let mut out = Vec::new();
        let mut ok = true;
        let mut seen: Vec<(&str, CmpOp)> = Vec::new();
        for cst in &h.constraints {
            let key = (cst.name.name.as_str(), cst.op);
            if seen.contains(&key) {
                let msg = format!("constraint `{} {}` is given twice", cst.name.name, cst.op.symbol());
                self.error(Diagnostic::error(c::ConflictingConstraint, msg, cst.span));
                ok = false;
                continue;
            }
            seen.push(key);
            match self.constraint(cst, env) {
                Ok(Some(v)) => out.push(v),
                Ok(None) => {}
                Err(()) => ok = false,
            }
        }
        let lo = out.iter().find_map(|c| match c {
            HoleConstraint::Depth(Bound::AtLeast | Bound::Exactly, n) => Some(*n),
            _ => None,
        });
        let hi = out.iter().find_map(|c| match c {
            HoleConstraint::Depth(Bound::AtMost | Bound::Exactly, n) => Some(*n),
            _ => None,
        });
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if lo > hi {
                let msg = format!("depth must be at least {lo} and at most {hi}: no subgraph can do both");
                self.error(Diagnostic::error(c::ConflictingConstraint, msg, h.span));
                ok = false;
            }
        }
        ok.then_some(out)
    }

    fn constraint(&mut self, cst: &ast::Constraint, env: &mut Env) -> Result<Option<HoleConstraint>, ()> {
        const NAMES: [&str; 6] = ["depth", "mixing", "shape", "params", "macs", "ops"];
        let name = cst.name.name.as_str();
        if !NAMES.contains(&name) {
            let mut d = Diagnostic::error(c::UnknownConstraint, format!("unknown hole constraint `{name}`"), cst.name.span)
                .with_note(format!("constraints are {}", NAMES.join(", ")));
            if let Some(h) = suggest(name, NAMES) {
                d = d.with_hint(h);
            }
            self.error(d);
            return Err(());
        }
        if matches!(cst.value, ConstraintValue::Any) {
            return Ok(None);
        }
        let allowed: &[CmpOp] = match name {
            "depth" => &[CmpOp::Ge, CmpOp::Le, CmpOp::Eq],
            "mixing" => &[CmpOp::Ge, CmpOp::Eq],
            "shape" => &[CmpOp::Eq],
            "params" | "macs" => &[CmpOp::Le],
            _ => &[CmpOp::In],
        };
        if !allowed.contains(&cst.op) {
            let forms: Vec<String> = allowed.iter().map(|o| format!("`{name} {} ...`", o.symbol())).collect();
            let msg = format!("`{name}` cannot be constrained with `{}`", cst.op.symbol());
            self.error(Diagnostic::error(c::BadConstraint, msg, cst.span).with_hint(format!("write {}", forms.join(" or "))));
            return Err(());
        }
        let bound = match cst.op {
            CmpOp::Ge => Bound::AtLeast,
            CmpOp::Le => Bound::AtMost,
            _ => Bound::Exactly,
        };
        let bad = |this: &mut Self, msg: String, span: Span| {
            this.error(Diagnostic::error(c::BadConstraint, msg, span));
            Err(())
        };
        match (&cst.value, name) {
            (ConstraintValue::Set(names, _), "ops") => {
                let mut kinds = Vec::new();
                for n in names {
                    match ops::lookup(&n.name) {
                        Some(s) => kinds.push(s.kind),
                        None => {
                            let mut d = Diagnostic::error(c::BadConstraint, format!("`{}` is not an op", n.name), n.span);
                            if let Some(h) = suggest(&n.name, ops::catalog().iter().map(|s| s.name)) {
                                d = d.with_hint(h);
                            }
                            self.error(d);
                            return Err(());
                        }
                    }
                }
                Ok(Some(HoleConstraint::Ops(kinds)))
            }
            (ConstraintValue::Expr(e), "mixing") => self.mixing_bound(e).map(|m| Some(HoleConstraint::Mixing(bound, m))),
            (ConstraintValue::Expr(e), "shape") => match self.eval(e, env) {
                Val::List(vs) if vs.iter().all(|v| matches!(v, Val::Int(_))) => {
                    let dims = vs.into_iter().filter_map(|v| if let Val::Int(d) = v { Some(d) } else { None }).collect();
                    Ok(Some(HoleConstraint::Shape(Shape(dims))))
                }
                Val::Error => Err(()),
                v => bad(self, format!("`shape` must be a list of dims like [B, H, W, C], found {}", v.describe()), e.span),
            },
            (ConstraintValue::Expr(e), "depth" | "params" | "macs") => match self.eval(e, env) {
                Val::Int(d) => match d.as_int() {
                    Some(n) if n >= 0 && (name != "depth" || n <= 64) => Ok(Some(match name {
                        "depth" => HoleConstraint::Depth(bound, n),
                        "params" => HoleConstraint::Params(n),
                        _ => HoleConstraint::Macs(n),
                    })),
                    _ => bad(self, format!("`{name}` needs a known whole number{}, found {d}", if name == "depth" { " from 0 to 64" } else { "" }), e.span),
                },
                Val::Error => Err(()),
                v => bad(self, format!("`{name}` needs a whole number, found {}", v.describe()), e.span),
            },
            (v, _) => {
                let span = match v {
                    ConstraintValue::Set(_, s) => *s,
                    ConstraintValue::Expr(e) => e.span,
                    ConstraintValue::Any => cst.span,
                };
                bad(self, format!("this is not a value for `{name}`"), span)
            }
        }
    }

    fn mixing_bound(&mut self, e: &Expr) -> Result<MixingBound, ()> {
        let named = match &e.kind {
            ExprKind::Name(n) => match n.as_str() {
                "pointwise" => Some(MixingBound::Pointwise),
                "dense" => Some(MixingBound::Dense),
                "conv" => Some(MixingBound::Conv),
                "full" => Some(MixingBound::Full),
                _ => None,
            },
            ExprKind::List(rows) => {
                let mut m = Vec::new();
                for r in rows {
                    let ExprKind::List(cells) = &r.kind else { break };
                    let row: Option<Vec<char>> = cells
                        .iter()
                        .map(|c| match &c.kind {
                            ExprKind::Name(n) if matches!(n.as_str(), "x" | "o" | "m" | "a") => n.chars().next(),
                            _ => None,
                        })
                        .collect();
                    match row {
                        Some(row) => m.push(row),
                        None => break,
                    }
                }
                let square = m.len() == rows.len() && !m.is_empty() && m.iter().all(|r| r.len() == m[0].len());
                square.then_some(MixingBound::Matrix(m))
            }
            _ => None,
        };
        named.ok_or_else(|| {
            self.error(
                Diagnostic::error(c::BadConstraint, "not a mixing value", e.span)
                    .with_note("mixing is `pointwise`, `dense`, `conv`, `full`, or a matrix of x/o/m/a rows like [[o, x], [x, a]]"),
            );
        })
    }
}

#[derive(Clone, Debug)]
struct ArgVal {
    name: Option<ast::Ident>,
    val: Val,
    span: Span,
}

impl ArgVal {
    fn plain(val: Val, span: Span) -> ArgVal {
        ArgVal { name: None, val, span }
    }
}

enum Converted {
    Tensors(Vec<(TensorId, Span)>),
    Attr(AttrValue),
    Failed,
}
