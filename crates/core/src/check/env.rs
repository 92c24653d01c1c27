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

/// Up to this many bindings a backward scan beats hashing the name (most blocks have a dozen).
const SCAN_LIMIT: usize = 32;

#[derive(Default)]
pub(super) struct Env {
    pub(super) vars: Vec<Binding>,
    /// Name → its newest binding in `vars`, built once there are more than `SCAN_LIMIT` (a
    /// block of 300,000 `let`s was quadratic without it).
    newest: std::collections::HashMap<String, usize>,
}

impl Env {
    pub(super) fn bind(&mut self, name: &str, val: Val, span: Span, kind: BindKind) {
        self.vars.push(Binding { name: name.to_string(), val, span, used: false, kind });
        if !self.newest.is_empty() {
            self.newest.insert(name.to_string(), self.vars.len() - 1);
        } else if self.vars.len() > SCAN_LIMIT {
            self.newest = self.vars.iter().enumerate().map(|(k, b)| (b.name.clone(), k)).collect();
        }
    }
    /// Drop the newest binding (a repetition's index going out of scope); whether it was read.
    pub(super) fn unbind_last(&mut self) -> bool {
        let Some(b) = self.vars.pop() else { return false };
        if !self.newest.is_empty() {
            match self.vars.iter().rposition(|v| v.name == b.name) {
                Some(k) => self.newest.insert(b.name.clone(), k),
                None => self.newest.remove(&b.name),
            };
        }
        b.used
    }
    fn position(&self, name: &str) -> Option<usize> {
        if self.newest.is_empty() { self.vars.iter().rposition(|b| b.name == name) } else { self.newest.get(name).copied() }
    }
    pub(super) fn lookup(&mut self, name: &str) -> Option<Val> {
        let k = self.position(name)?;
        let b = &mut self.vars[k];
        b.used = true;
        Some(b.val.clone())
    }
    pub(super) fn has(&self, name: &str) -> bool {
        self.position(name).is_some()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names_resolve_to_the_newest_binding(n: usize) {
        let mut env = Env::default();
        for k in 0..n {
            env.bind(&format!("v{}", k % 7), Val::Int(crate::shape::Dim::int(k as i64)), Span::default(), BindKind::Let);
        }
        for r in 0..7.min(n) {
            let newest = (0..n).rev().find(|k| k % 7 == r).unwrap();
            assert!(matches!(env.lookup(&format!("v{r}")), Some(Val::Int(d)) if d.as_int() == Some(newest as i64)));
        }
        assert!(!env.has("w"));
    }

    #[test]
    fn shadowing_picks_the_newest_binding_scanned_or_hashed() {
        names_resolve_to_the_newest_binding(5);
        names_resolve_to_the_newest_binding(SCAN_LIMIT);
        names_resolve_to_the_newest_binding(SCAN_LIMIT + 1);
        names_resolve_to_the_newest_binding(1000);
    }
}
