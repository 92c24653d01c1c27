//! Holes: their inputs and output shape, and their constraints checked and resolved.

use super::elaborate::*;
use super::env::Env;
use crate::diag::{Diagnostic, Span, codes as c, suggest};
use crate::ir::{Bound, HoleConstraint, HoleSpec, MixingBound, Node, NodeKind};
use crate::ops;
use crate::shape::Shape;
use crate::syntax::ast::{self, CmpOp, ConstraintValue, Expr, ExprKind};

impl<'p> Elaborator<'p> {
    pub(super) fn hole(&mut self, h: &ast::Hole, inputs: Vec<(Val, Span)>, expected: Option<&Shape>, env: &mut Env) -> Val {
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

    pub(super) fn hole_constraints(&mut self, h: &ast::Hole, env: &mut Env) -> Option<Vec<HoleConstraint>> {
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
        if let (Some(lo), Some(hi)) = (lo, hi)
            && lo > hi
        {
            let msg = format!("depth must be at least {lo} and at most {hi}: no subgraph can do both");
            self.error(Diagnostic::error(c::ConflictingConstraint, msg, h.span));
            ok = false;
        }
        ok.then_some(out)
    }

    pub(super) fn constraint(&mut self, cst: &ast::Constraint, env: &mut Env) -> Result<Option<HoleConstraint>, ()> {
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

    pub(super) fn mixing_bound(&mut self, e: &Expr) -> Result<MixingBound, ()> {
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
