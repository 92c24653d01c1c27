//! Block signatures: parameters bound for a generic check, bodies, declared returns, and
//! argument shapes matched against declared parameter shapes.

use super::call::ArgVal;
use super::elaborate::*;
use super::env::{BindKind, Env};
use crate::diag::{Diagnostic, Span, codes as c, suggest};
use crate::shape::{Dim, Shape};
use crate::syntax::ast::{self, Expr, ExprKind, StmtKind, TypeExpr};

impl<'p> Elaborator<'p> {
    /// Bind a block's parameters for a generic check: shape names become symbols, ints without a
    /// default become symbols, defaults are used otherwise. Returns each parameter's value.
    pub(super) fn bind_generic_params(&mut self, def: &ast::BlockDef, env: &mut Env) -> Vec<Val> {
        let mut values = Vec::new();
        for p in &def.params {
            match &p.ty {
                TypeExpr::Tensor(dims, span) if !self.rank_allowed(dims.len(), *span) => {
                    values.push(Val::Error);
                    env.bind(&p.name.name, Val::Error, p.name.span, BindKind::Other);
                }
                TypeExpr::Tensor(dims, span) => {
                    let mut shape = Vec::new();
                    for d in dims {
                        if let ExprKind::Name(n) = &d.kind
                            && !env.has(n)
                        {
                            env.bind(n, Val::Int(Dim::sym(n)), d.span, BindKind::Other);
                        }
                        shape.push(self.dim_expr(d, env, true));
                    }
                    let shape: Option<Vec<Dim>> = shape.into_iter().collect();
                    let val = match shape {
                        Some(s) => Val::Tensor(self.new_tensor(Shape(s), None, *span)),
                        None => Val::Error,
                    };
                    self.note_binding(p.name.span, &val);
                    values.push(val.clone());
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
                    values.push(val.clone());
                    env.bind(&p.name.name, val, p.name.span, BindKind::Other);
                }
                TypeExpr::Tuple(_, span) => {
                    self.error(Diagnostic::error(c::BadType, "a parameter cannot be a tuple", *span));
                    values.push(Val::Error);
                    env.bind(&p.name.name, Val::Error, p.name.span, BindKind::Other);
                }
            }
        }
        values
    }

    /// Whether a tensor of `rank` dims is within [`MAX_RANK`]; reported at `span` when not.
    pub(super) fn rank_allowed(&mut self, rank: usize, span: Span) -> bool {
        if rank <= MAX_RANK {
            return true;
        }
        self.error(
            Diagnostic::error(c::TooLarge, format!("a tensor of rank {rank} is over the limit of {MAX_RANK} dims"), span)
                .with_primary_label(format!("{rank} dims"))
                .with_hint("a tensor type lists one dim per axis: `[B, H, W, C]`"),
        );
        false
    }

    /// Report an unknown type name or a value of the wrong type; `false` if reported.
    pub(super) fn check_scalar_type(&mut self, ty: &ast::Ident, val: &Val, span: Span) -> bool {
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
            (_, Val::Error) | ("int", Val::Int(_)) | ("float", Val::Float(_) | Val::AnyFloat | Val::Int(_)) | ("bool", Val::Bool(_)) | ("str", Val::Str(_))
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
    pub(super) fn body(&mut self, def: &ast::BlockDef, env: &mut Env) -> Val {
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
            Diagnostic::error(c::NoReturn, format!("`{}` has no `return`", def.name.name), def.name.span).with_hint("end the block with `return <value>`"),
        )
    }

    /// The declared output shape, when it is a single tensor.
    pub(super) fn return_shape(&mut self, ty: &TypeExpr, env: &mut Env) -> Option<Shape> {
        match ty {
            TypeExpr::Tensor(dims, span) => {
                if !self.rank_allowed(dims.len(), *span) {
                    return None;
                }
                let d: Option<Vec<Dim>> = dims.iter().map(|d| self.dim_expr(d, env, false)).collect();
                d.map(Shape)
            }
            _ => None,
        }
    }

    pub(super) fn check_return(&mut self, def: &ast::BlockDef, e: &Expr, v: &Val, expected: Option<&Shape>, env: &mut Env) {
        match (&def.ret, v) {
            (_, Val::Error) => {}
            (TypeExpr::Tensor(_, tspan), Val::Tensor(t)) => {
                let Some(want) = expected else { return };
                let got = self.graph.shape(*t).clone();
                if &got != want {
                    let mut d = Diagnostic::error(c::ReturnMismatch, format!("`{}` returns {got} but its signature says {want}", def.name.name), e.span)
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

    /// Match an argument's shape against a parameter's declared shape, binding new names.
    pub(super) fn match_shape(&mut self, def: &ast::BlockDef, p: &ast::Param, dims: &[Expr], tspan: Span, a: &ArgVal, env: &mut Env) -> bool {
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
            if let ExprKind::Name(n) = &e.kind
                && !env.has(n)
            {
                env.bind(n, Val::Int(got.clone()), e.span, BindKind::Other);
                continue;
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
}
