//! Bindings in scope while a block is elaborated, and the checks on them.

use super::elaborate::{Elaborator, Val};
use crate::diag::{Diagnostic, Span, codes as c};
use crate::syntax::ast;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BindKind {
    Let,
    TensorParam,
    Other,
}

pub(super) struct Binding {
    pub(super) name: String,
    pub(super) val: Val,
    pub(super) span: Span,
    pub(super) used: bool,
    pub(super) kind: BindKind,
}

#[derive(Default)]
pub(super) struct Env {
    pub(super) vars: Vec<Binding>,
    /// Name → its newest binding in `vars` (a block of 300,000 `let`s was quadratic without it).
    pub(super) newest: std::collections::HashMap<String, usize>,
}

impl Env {
    pub(super) fn bind(&mut self, name: &str, val: Val, span: Span, kind: BindKind) {
        self.newest.insert(name.to_string(), self.vars.len());
        self.vars.push(Binding { name: name.to_string(), val, span, used: false, kind });
    }
    pub(super) fn lookup(&mut self, name: &str) -> Option<Val> {
        let b = &mut self.vars[*self.newest.get(name)?];
        b.used = true;
        Some(b.val.clone())
    }
    pub(super) fn has(&self, name: &str) -> bool {
        self.newest.contains_key(name)
    }
}

impl<'p> Elaborator<'p> {
    pub(super) fn note_binding(&mut self, span: Span, v: &Val) {
        if let (Val::Tensor(t), true) = (v, self.stack.len() == 1) {
            self.graph.bindings.push((span, *t));
        }
    }

    pub(super) fn bind_pattern(&mut self, pat: &ast::Pattern, v: Val, env: &mut Env) {
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
    pub(super) fn unused_warnings(&mut self, env: &Env) {
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
}
