//! Walking expressions: the AST's shape is written down once, here. `children` lists an
//! expression's direct sub-expressions, `walk` and `find_map` go through them in source order,
//! and `children_mut` lets a rewrite recurse before it replaces a node.
//!
//! Sub-expressions are the values an expression is built from: call and stage arguments, a
//! pipe's input, operands, list and tuple items, a hole's inputs. A repeat count (`|> B * 3`)
//! and hole constraints are not values and are not visited.

use super::ast::{BlockDef, Expr, ExprKind, Stage, StmtKind};

/// The direct sub-expressions of `e`, in source order.
pub fn children(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Call { args, .. } => args.iter().map(|a| &a.value).collect(),
        ExprKind::Pipe { input, stage } => {
            let mut v = vec![input.as_ref()];
            match stage.as_ref() {
                Stage::Call { args, .. } => v.extend(args.iter().map(|a| &a.value)),
                Stage::Hole(h) => v.extend(&h.inputs),
            }
            v
        }
        ExprKind::Binary { lhs, rhs, .. } => vec![lhs.as_ref(), rhs.as_ref()],
        ExprKind::Neg(x) => vec![x.as_ref()],
        ExprKind::List(v) | ExprKind::Tuple(v) => v.iter().collect(),
        ExprKind::Hole(h) => h.inputs.iter().collect(),
        ExprKind::Name(_) | ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Bool(_) => Vec::new(),
    }
}

/// The direct sub-expressions of `e`, mutably, in source order.
pub fn children_mut(e: &mut Expr) -> Vec<&mut Expr> {
    match &mut e.kind {
        ExprKind::Call { args, .. } => args.iter_mut().map(|a| &mut a.value).collect(),
        ExprKind::Pipe { input, stage } => {
            let mut v = vec![input.as_mut()];
            match stage.as_mut() {
                Stage::Call { args, .. } => v.extend(args.iter_mut().map(|a| &mut a.value)),
                Stage::Hole(h) => v.extend(&mut h.inputs),
            }
            v
        }
        ExprKind::Binary { lhs, rhs, .. } => vec![lhs.as_mut(), rhs.as_mut()],
        ExprKind::Neg(x) => vec![x.as_mut()],
        ExprKind::List(v) | ExprKind::Tuple(v) => v.iter_mut().collect(),
        ExprKind::Hole(h) => h.inputs.iter_mut().collect(),
        ExprKind::Name(_) | ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Bool(_) => Vec::new(),
    }
}

/// `f` on `e` and then on each sub-expression, depth first, in source order.
pub fn walk<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(e);
    for c in children(e) {
        walk(c, f);
    }
}

/// The first `Some` that `f` gives, in the order of [`walk`].
pub fn find_map<'a, T>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr) -> Option<T>) -> Option<T> {
    if let Some(t) = f(e) {
        return Some(t);
    }
    children(e).into_iter().find_map(|c| find_map(c, f))
}

/// The value of every statement of a block body (`let` right-hand sides and the `return`).
pub fn body_values(def: &BlockDef) -> impl Iterator<Item = &Expr> {
    def.body.iter().map(|s| match &s.kind {
        StmtKind::Let { value, .. } | StmtKind::Return(value) => value,
    })
}

/// The value of every statement of a block body, mutably.
pub fn body_values_mut(def: &mut BlockDef) -> impl Iterator<Item = &mut Expr> {
    def.body.iter_mut().map(|s| match &mut s.kind {
        StmtKind::Let { value, .. } | StmtKind::Return(value) => value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse_expr;

    #[test]
    fn walks_every_value_in_source_order() {
        let e = parse_expr("f(a, [b, -c]) |> g(d * e) |> ?<depth >= 1>").expect("parses");
        let mut names = Vec::new();
        walk(&e, &mut |x| {
            if let ExprKind::Name(n) = &x.kind {
                names.push(n.clone());
            }
        });
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        assert_eq!(find_map(&e, &mut |x| matches!(x.kind, ExprKind::Binary { .. }).then_some("binary")), Some("binary"));
    }
}
