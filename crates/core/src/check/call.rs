//! Calls: arguments bound to an op's or a block's parameters, ops applied through the catalog,
//! blocks inlined within the node budget.

use super::elaborate::*;
use super::env::{BindKind, Env};
use crate::diag::{Diagnostic, Span, codes as c, suggest};
use crate::ir::{Node, NodeKind, Scope, TensorId};
use crate::ops::{self, ArgKind, AttrValue, Attrs, OpKind, OpSpec, Padding};
use crate::program::BlockEntry;
use crate::shape::{Dim, Shape};
use crate::syntax::ast::{self, Stage, TypeExpr};

impl<'p> Elaborator<'p> {
    pub(super) fn eval_args(&mut self, args: &[ast::Arg], env: &mut Env) -> Vec<ArgVal> {
        args.iter().map(|a| ArgVal { name: a.name.clone(), val: self.eval(&a.value, env), span: a.value.span }).collect()
    }

    pub(super) fn stage(&mut self, stage: &Stage, x: Val, xspan: Span, env: &mut Env, expected: Option<&Shape>) -> Val {
        match stage {
            Stage::Hole(h) => self.hole(h, vec![(x, xspan)], expected, env),
            Stage::Call { callee, args, repeat, index, span } => {
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
                match index {
                    None => {
                        let args = self.eval_args(args, env);
                        self.repeat_call(callee, x, xspan, times, *span, &mut |_, _| args.clone())
                    }
                    Some(i) => self.indexed_call(callee, args, i, x, xspan, times, *span, env),
                }
            }
        }
    }

    /// `x |> callee(args) * times`, the arguments of the k-th call from `args_of(self, k)`.
    fn repeat_call(&mut self, callee: &ast::Ident, x: Val, xspan: Span, times: i64, span: Span, args_of: &mut dyn FnMut(&mut Self, i64) -> Vec<ArgVal>) -> Val {
        let mut cur = x;
        for k in 0..times {
            if matches!(cur, Val::Error) {
                return Val::Error;
            }
            let args = args_of(self, k);
            if args.iter().any(|a| matches!(a.val, Val::Error)) {
                return Val::Error;
            }
            let piped = ArgVal { name: None, val: cur, span: xspan };
            cur = self.call(callee, Some(piped), args, span);
        }
        cur
    }

    /// `x |> callee(args) * times for i`: the arguments are evaluated for each call with `i`
    /// bound to its index, 0 to times - 1, and `i` is in scope nowhere else.
    #[allow(clippy::too_many_arguments)]
    fn indexed_call(&mut self, callee: &ast::Ident, args: &[ast::Arg], i: &ast::Ident, x: Val, xspan: Span, times: i64, span: Span, env: &mut Env) -> Val {
        let (mut used, mut last) = (false, 0);
        let before = self.diags.len();
        let mut args_of = |el: &mut Self, k: i64| {
            env.bind(&i.name, Val::Int(Dim::int(k)), i.span, BindKind::Other);
            let args = el.eval_args(args, env);
            used |= env.unbind_last();
            last = k;
            args
        };
        let out = if times == 0 {
            // Nothing is called, but the arguments are still checked once.
            args_of(self, 0);
            x
        } else {
            self.repeat_call(callee, x, xspan, times, span, &mut args_of)
        };
        // The repetition stops at its first error: every new one is from index `last`.
        for d in self.diags[before..].iter_mut().filter(|d| d.severity == crate::diag::Severity::Error) {
            d.notes.push(format!("with `{} = {last}` ({} of {times})", i.name, last + 1));
        }
        if !used && !i.name.starts_with('_') {
            let d = Diagnostic::warning(c::UnusedBinding, format!("unused index `{}`", i.name), i.span)
                .with_primary_label("never read")
                .with_hint(format!("use it in the arguments, or drop `for {}`", i.name));
            self.diags.push(d);
        }
        out
    }

    pub(super) fn call(&mut self, callee: &ast::Ident, piped: Option<ArgVal>, args: Vec<ArgVal>, span: Span) -> Val {
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
        let candidates: Vec<&str> = ops::catalog().iter().map(|s| s.name).chain(self.prog.blocks.iter().map(|b| b.def.name.name.as_str())).collect();
        let mut d = Diagnostic::error(c::UnknownCallee, format!("unknown op or block `{}`", callee.name), callee.span)
            .with_primary_label("not an op of the catalog nor a block in scope");
        let block_def = format!("block {}(", callee.name);
        let stdlib = crate::program::STDLIB.iter().find(|(_, text)| text.contains(&block_def)).map(|(module, _)| *module);
        d = match (stdlib, suggest(&callee.name, candidates)) {
            (Some(module), _) => d.with_hint(format!("`{}` is a block of the stdlib: add `use std.{module}`", callee.name)),
            (None, Some(h)) => d.with_hint(h),
            (None, None) => d.with_note("no op or block has this name; `nasc ops` lists the ops"),
        };
        self.error(d)
    }

    /// Match arguments to parameters by position and name. `None` when an error was reported.
    /// `sig` renders the signature for messages (only computed on an error).
    pub(super) fn bind_args(
        &mut self,
        what: &str,
        sig: &dyn Fn() -> String,
        params: &[(&str, bool)],
        args: Vec<ArgVal>,
        span: Span,
    ) -> Option<Vec<Option<ArgVal>>> {
        let mut slots: Vec<Option<ArgVal>> = vec![None; params.len()];
        let mut ok = true;
        let mut next = 0;
        // Every positional argument past the parameters is one mistake: reported once, at the
        // first (5,000 extra arguments made 5,000 errors quoting the same line).
        let positional = args.iter().filter(|a| a.name.is_none()).count();
        for a in args {
            let k = match &a.name {
                None => {
                    let k = next;
                    next += 1;
                    if k == params.len() {
                        let msg = format!("too many arguments to `{what}`: it takes {}, found {positional} positional", params.len());
                        let label = if positional - k > 1 { format!("{} extra arguments from here", positional - k) } else { "extra argument".into() };
                        self.error(Diagnostic::error(c::TooManyArgs, msg, a.span).with_primary_label(label).with_note(format!("signature: {}", sig())));
                    }
                    if k >= params.len() {
                        ok = false;
                        continue;
                    }
                    k
                }
                Some(n) => match params.iter().position(|(p, _)| *p == n.name.as_str()) {
                    Some(k) => k,
                    None => {
                        let names: Vec<&str> = params.iter().map(|(p, _)| *p).collect();
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
                self.error(
                    Diagnostic::error(c::MissingArg, msg, span).with_primary_label(format!("needs `{name}`")).with_note(format!("signature: {}", sig())),
                );
                ok = false;
            }
        }
        ok.then_some(slots)
    }

    pub(super) fn call_op(&mut self, spec: &'static OpSpec, args: Vec<ArgVal>, span: Span) -> Val {
        if args.iter().any(|a| matches!(a.val, Val::Error)) {
            return Val::Error;
        }
        let params: Vec<(&str, bool)> = spec.args.iter().map(|a| (a.name, a.default.is_some())).collect();
        let Some(slots) = self.bind_args(spec.name, &|| spec.signature(), &params, args, span) else { return Val::Error };
        let mut tensors: Vec<(TensorId, Span)> = Vec::new();
        let mut attrs = Attrs::default();
        for (a, slot) in spec.args.iter().zip(slots) {
            let value = match slot {
                Some(v) => v,
                None => {
                    let Some(d) = a.default else { return Val::Error };
                    let v = ops::default_attr(d, &attrs).unwrap_or(AttrValue::Int(Dim::one()));
                    attrs.0.push((a.name, v));
                    continue;
                }
            };
            match self.convert(spec.name, a.name, a.kind, &value) {
                Converted::Tensors(ts) => tensors.extend(ts),
                Converted::Attr(v) => attrs.0.push((a.name, v)),
                Converted::Failed => return Val::Error,
            }
        }
        self.apply_op(spec, tensors, attrs, span, None)
    }

    pub(super) fn convert(&mut self, op: &str, arg: &str, kind: ArgKind, a: &ArgVal) -> Converted {
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
            (ArgKind::Window, v) => match window_arg(v) {
                Ok(w) => return Converted::Attr(w),
                Err(None) => v.describe(),
                Err(Some(msg)) => {
                    self.error(Diagnostic::error(c::BadArgValue, msg, a.span).with_hint(format!("write `{arg}: 3` or `{arg}: [1, 7]`")));
                    return Converted::Failed;
                }
            },
            (ArgKind::Padding, v) => match padding(v) {
                Ok(p) => return Converted::Attr(AttrValue::Padding(p)),
                Err(None) => v.describe(),
                Err(Some(msg)) => {
                    self.error(Diagnostic::error(c::BadArgValue, msg, a.span).with_hint("write `same`, `valid`, 1, [1, 2] or [top, bottom, left, right]"));
                    return Converted::Failed;
                }
            },
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

    pub(super) fn apply_op(&mut self, spec: &'static OpSpec, inputs: Vec<(TensorId, Span)>, attrs: Attrs, span: Span, symbol: Option<&str>) -> Val {
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
            Ok(outs) if outs.iter().any(|o| o.rank() > MAX_RANK) => {
                let rank = outs.iter().map(Shape::rank).max().unwrap_or(0);
                let msg = format!("`{}` would make a tensor of rank {rank}, over the limit of {MAX_RANK} dims", spec.name);
                self.error(Diagnostic::error(c::TooLarge, msg, span).with_primary_label(format!("{rank} dims")))
            }
            // A tensor no machine can hold, whose counts would overflow the reports' 128 bits.
            Ok(outs) if outs.iter().any(|o| o.numel().is_err() || o.numel().is_ok_and(|n| n.as_ratio().is_some_and(|r| r.numer() > i64::MAX as i128))) => {
                let msg = format!("`{}` would make a tensor of more than 2^63 elements", spec.name);
                let shape = outs.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ");
                self.error(Diagnostic::error(c::TooLarge, msg, span).with_primary_label(shape))
            }
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
    pub(super) fn budget_spent(&mut self, span: Span) -> Val {
        self.over_budget = true;
        let chain: Vec<&str> = self.stack.iter().map(|(b, _)| b.as_str()).collect();
        self.error(
            Diagnostic::error(c::TooLarge, format!("the program inlines to more than {MAX_NODES} ops"), span)
                .with_primary_label("the budget ran out here")
                .with_note(format!("call chain: {}", chain.join(" → ")))
                .with_hint("blocks and repeats are inlined, and nested repeats multiply: check the repeat counts"),
        )
    }

    pub(super) fn call_block(&mut self, entry: &'p BlockEntry, args: Vec<ArgVal>, span: Span) -> Val {
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
        let params: Vec<(&str, bool)> = def.params.iter().map(|p| (p.name.name.as_str(), p.default.is_some())).collect();
        let sig = || format!("{name}({})", def.params.iter().map(|p| p.name.name.as_str()).collect::<Vec<_>>().join(", "));
        let Some(slots) = self.bind_args(&name, &sig, &params, args, span) else { return Val::Error };
        if let Some(out) = self.by_summary(entry, &slots, span) {
            return out;
        }

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
    pub(super) fn instantiate(&mut self, def: &ast::BlockDef, slots: Vec<Option<ArgVal>>, span: Span) -> Val {
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
}

#[derive(Clone, Debug)]
pub(super) struct ArgVal {
    pub(super) name: Option<ast::Ident>,
    pub(super) val: Val,
    pub(super) span: Span,
}

pub(super) enum Converted {
    Tensors(Vec<(TensorId, Span)>),
    Attr(AttrValue),
    Failed,
}

/// A `padding` argument: `Err(None)` when it has the wrong type, `Err(Some(why))` when a value
/// is wrong.
fn padding(v: &Val) -> Result<Padding, Option<String>> {
    // Symbolic amounts (a block's parameter) are allowed: each call gives them values.
    let amount = |v: &Val| match v {
        Val::Int(d) if d.is_fractional() || d.as_int().is_some_and(|n| n < 0) => Err(Some(format!("padding amounts must be non-negative ints, found {d}"))),
        Val::Int(d) => Ok(d.clone()),
        _ => Err(None),
    };
    match v {
        Val::Str(s) if s == "same" => Ok(Padding::Same),
        Val::Str(s) if s == "valid" => Ok(Padding::Valid),
        Val::Str(s) => Err(Some(format!("unknown padding {s:?}"))),
        Val::Int(_) => {
            let p = amount(v)?;
            Ok(Padding::Explicit { top: p.clone(), bottom: p.clone(), left: p.clone(), right: p })
        }
        Val::List(vs) => match vs.iter().map(amount).collect::<Result<Vec<Dim>, _>>()?.as_slice() {
            [h, w] => Ok(Padding::Explicit { top: h.clone(), bottom: h.clone(), left: w.clone(), right: w.clone() }),
            [top, bottom, left, right] => Ok(Padding::Explicit { top: top.clone(), bottom: bottom.clone(), left: left.clone(), right: right.clone() }),
            other => Err(Some(format!("a padding list has 2 or 4 ints, found {}", other.len()))),
        },
        _ => Err(None),
    }
}

/// A window argument (`kernel`, `stride`, `dilation`, a pool's `window`): `Err(None)` when it
/// has the wrong type, `Err(Some(why))` when a list has the wrong length.
fn window_arg(v: &Val) -> Result<AttrValue, Option<String>> {
    match v {
        Val::Int(d) => Ok(AttrValue::Int(d.clone())),
        Val::List(vs) if vs.iter().all(|v| matches!(v, Val::Int(_))) => match vs.as_slice() {
            [Val::Int(h), Val::Int(w)] => Ok(AttrValue::Ints(vec![h.clone(), w.clone()])),
            other => Err(Some(format!("a window list has 2 ints [height, width], found {}", other.len()))),
        },
        _ => Err(None),
    }
}
