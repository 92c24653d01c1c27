//! Expressions: names, dim arithmetic, operators and pipe stages.

use super::elaborate::*;
use super::env::{BindKind, Env};
use crate::diag::{Diagnostic, Span, codes as c, suggest};
use crate::ops::{self, Attrs, OpKind};
use crate::shape::{Dim, Shape};
use crate::syntax::ast::{BinOp, Expr, ExprKind};

impl<'p> Elaborator<'p> {
    pub(super) fn eval(&mut self, e: &Expr, env: &mut Env) -> Val {
        self.eval_expecting(e, env, None)
    }

    /// `expected` is the shape the value must have; a hole with no `shape` constraint takes it.
    pub(super) fn eval_expecting(&mut self, e: &Expr, env: &mut Env, expected: Option<&Shape>) -> Val {
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
            ExprKind::List(v) => {
                let items: Vec<Val> = v.iter().map(|x| self.eval(x, env)).collect();
                // A list is consumed whole (an op's argument), so one bad element poisons it: the
                // element's error was reported, the list's use must not report another.
                if items.iter().any(|i| matches!(i, Val::Error)) { Val::Error } else { Val::List(items) }
            }
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

    pub(super) fn tensor_shape(&self, v: &Val) -> Option<Shape> {
        match v {
            Val::Tensor(t) => Some(self.graph.shape(*t).clone()),
            _ => None,
        }
    }

    pub(super) fn name(&mut self, n: &str, span: Span, env: &mut Env) -> Val {
        if let Some(v) = env.lookup(n) {
            return v;
        }
        // The padding modes of convs and pools read as words: `conv(64, 3, padding: valid)`.
        if n == "same" || n == "valid" {
            return Val::Str(n.to_string());
        }
        if ops::lookup(n).is_some() || self.prog.block(n).is_some() {
            return self.error(
                Diagnostic::error(c::UnknownName, format!("`{n}` is an op or block, not a value"), span).with_hint(format!("call it: `x |> {n}` or `{n}(x)`")),
            );
        }
        let mut d = Diagnostic::error(c::UnknownName, format!("cannot find value `{n}` in this scope"), span).with_primary_label("not found");
        self.suggestions += 1;
        let hint = (self.suggestions <= MAX_NAME_SUGGESTIONS).then(|| suggest(n, env.vars.iter().map(|b| b.name.as_str()))).flatten();
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.error(d)
    }

    /// An expression used as a dim (in a type or a shape list). `auto` binds unknown names as
    /// new symbols (generic checking of a block signature).
    pub(super) fn dim_expr(&mut self, e: &Expr, env: &mut Env, auto: bool) -> Option<Dim> {
        if auto
            && let ExprKind::Name(n) = &e.kind
            && !env.has(n)
        {
            env.bind(n, Val::Int(Dim::sym(n)), e.span, BindKind::Other);
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

    pub(super) fn binary(&mut self, op: BinOp, (a, sa): (Val, Span), (b, sb): (Val, Span), span: Span) -> Val {
        match (a, b) {
            (Val::Error, _) | (_, Val::Error) => Val::Error,
            (Val::Int(x), Val::Int(y)) => self.dim_arith(op, &x, &y, span),
            (Val::Tensor(x), Val::Tensor(y)) => {
                let kind = match op {
                    BinOp::Add => OpKind::Add,
                    BinOp::Mul => OpKind::Mul,
                    BinOp::Sub | BinOp::Div => {
                        let msg = format!("`{}` does not apply to tensors", op.symbol());
                        return self.error(
                            Diagnostic::error(c::BadOperator, msg, span).with_hint("tensors support `+` and `*` (element-wise); use `scale(-1.0)` to negate"),
                        );
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
                let mut d = Diagnostic::error(c::BadOperator, msg, span).with_label(sa, x.describe()).with_label(sb, y.describe());
                if matches!((&x, &y), (Val::Tensor(_), Val::Int(_) | Val::Float(_)) | (Val::Int(_) | Val::Float(_), Val::Tensor(_))) {
                    d = d.with_hint("multiply a tensor by a constant with `scale(s)`");
                }
                self.error(d)
            }
        }
    }

    pub(super) fn dim_arith(&mut self, op: BinOp, x: &Dim, y: &Dim, span: Span) -> Val {
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
}
