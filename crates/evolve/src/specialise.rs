//! Specialising a block for the values its calls pass (issue 31): synthesis works on shapes
//! whose dims are products and quotients of symbols, but ops only divide spatial dims by whole
//! factors, so a subgraph going from `H` to `H / stride` has no symbolic fill. The mutation
//! instead rewrites a copy of the block in which such parameters are the values one call passes
//! (`BasicBlockDown(64)` with its default `stride: int = 2` → `BasicBlockDown2`, whose shapes
//! are `H / 2`); the calls passing the same values use the copy, the others keep the block.

use super::calls;
use nasc_core::rng::Rng;
use nasc_core::shape::Shape;
use nasc_core::syntax::ast::{Arg, BlockDef, Expr, ExprKind, File, Ident, IntLit, ItemKind, TypeExpr};
use nasc_core::syntax::visit;
use std::sync::Arc;

/// The block's scalar parameters that a spatial dim (not the batch or channel dim) of
/// `shapes` mentions: what specialising would make concrete.
pub fn spatial_params(def: &BlockDef, shapes: &[Shape]) -> Vec<String> {
    let scalars: Vec<&str> = def.params.iter().filter(|p| matches!(p.ty, TypeExpr::Scalar(_))).map(|p| p.name.name.as_str()).collect();
    let mut found: Vec<String> = Vec::new();
    for s in shapes {
        let spatial = s.0.len().saturating_sub(1);
        for d in s.0.iter().take(spatial).skip(1) {
            for sym in d.symbols() {
                if scalars.contains(&sym.as_str()) && !found.contains(&sym) {
                    found.push(sym);
                }
            }
        }
    }
    found
}

/// The literal int values a call passes for `params` (by name, by position or by default), or
/// `None` when one of them is not a literal.
fn call_values(def: &BlockDef, args: &[Arg], piped: bool, params: &[String]) -> Option<Vec<u64>> {
    params
        .iter()
        .map(|p| {
            let at = def.params.iter().position(|q| &q.name.name == p)?;
            let positional = at.checked_sub(usize::from(piped));
            let named = args.iter().find(|a| a.name.as_ref().is_some_and(|n| &n.name == p));
            let by_position = positional.and_then(|k| args.iter().filter(|a| a.name.is_none()).nth(k));
            let value = named.or(by_position).map(|a| &a.value).or(def.params[at].default.as_ref())?;
            match &value.kind {
                ExprKind::Int(i) if i.suffix.is_none() => Some(i.value),
                _ => None,
            }
        })
        .collect()
}

fn block_def<'a>(file: &'a File, block: &str) -> Option<&'a BlockDef> {
    file.items.iter().find_map(|i| match &i.kind {
        ItemKind::Block(d) if d.name.name == block => Some(d.as_ref()),
        _ => None,
    })
}

/// What the calls of `block` pass for `params`, in the order calls are visited.
fn all_call_values(file: &File, def: &BlockDef, block: &str, params: &[String]) -> Vec<Option<Vec<u64>>> {
    let mut out = Vec::new();
    calls::visit_calls(file, block, &mut |args, piped| out.push(call_values(def, args, piped, params)));
    out
}

/// A specialised copy of `block` for the values one call (chosen by `rng`) passes for
/// `params`, every call passing the same values pointed at it: the new file, the copy's name,
/// a description of what was done. `None` when no call passes literal values.
pub fn specialise(file: &File, block: &str, params: &[String], rng: &mut Rng) -> Option<(File, String, String)> {
    let def = block_def(file, block)?.clone();
    let values = all_call_values(file, &def, block, params);
    let literal: Vec<&Vec<u64>> = values.iter().flatten().collect();
    if literal.is_empty() {
        return None;
    }
    let chosen = literal[rng.below(literal.len())].clone();
    let pick: Vec<bool> = values.iter().map(|v| v.as_ref() == Some(&chosen)).collect();
    let name = calls::fresh_name(file, block);
    let mut file = file.clone();
    let at = file.items.iter().position(|i| matches!(&i.kind, ItemKind::Block(d) if d.name.name == block))?;
    let mut copy = file.items[at].clone();
    if let ItemKind::Block(d) = &mut copy.kind {
        let d = Arc::make_mut(d);
        d.name.name = name.clone();
        substitute_def(d, params, &chosen);
    }
    // The picked calls use the copy, without the specialised arguments.
    calls::visit_calls_mut(&mut file, block, &mut |k, callee, args, piped| {
        if pick[k] {
            callee.name = name.clone();
            name_positionals(args, &def, params, piped);
            args.retain(|a| !a.name.as_ref().is_some_and(|n| params.contains(&n.name)));
        }
    });
    file.items.insert(at + 1, copy);
    let picked = pick.iter().filter(|p| **p).count();
    if picked == pick.len() {
        // Every call now uses the copy: the original would only be dead text.
        file.items.remove(at);
    }
    let bound: Vec<String> = params.iter().zip(&chosen).map(|(p, v)| format!("{p} = {v}")).collect();
    Some((file, name.clone(), format!("{block} specialised for {} as {name} ({picked} of {} calls)", bound.join(", "), pick.len())))
}

/// Remove `params` from the block's signature and put their values wherever they are named.
fn substitute_def(def: &mut BlockDef, params: &[String], values: &[u64]) {
    def.params.retain(|p| !params.contains(&p.name.name));
    let mut subst = |e: &mut Expr| substitute(e, params, values);
    for p in &mut def.params {
        if let TypeExpr::Tensor(dims, _) = &mut p.ty {
            dims.iter_mut().for_each(&mut subst);
        }
        if let Some(d) = &mut p.default {
            subst(d);
        }
    }
    substitute_type(&mut def.ret, params, values);
    for value in visit::body_values_mut(def) {
        substitute(value, params, values);
    }
}

fn substitute_type(t: &mut TypeExpr, params: &[String], values: &[u64]) {
    match t {
        TypeExpr::Tensor(dims, _) => dims.iter_mut().for_each(|d| substitute(d, params, values)),
        TypeExpr::Tuple(ts, _) => ts.iter_mut().for_each(|t| substitute_type(t, params, values)),
        TypeExpr::Scalar(_) => {}
    }
}

fn substitute(e: &mut Expr, params: &[String], values: &[u64]) {
    if let ExprKind::Name(n) = &e.kind
        && let Some(k) = params.iter().position(|p| p == n)
    {
        e.kind = ExprKind::Int(IntLit { value: values[k], suffix: None });
        return;
    }
    for c in visit::children_mut(e) {
        substitute(c, params, values);
    }
}

/// Name the positional arguments that bind a specialised parameter, or come after one (its
/// removal would shift them onto the wrong parameter).
fn name_positionals(args: &mut [Arg], def: &BlockDef, params: &[String], piped: bool) {
    let first = def.params.iter().position(|p| params.contains(&p.name.name)).unwrap_or(usize::MAX);
    for (k, a) in (usize::from(piped)..).zip(args.iter_mut().filter(|a| a.name.is_none())) {
        if let Some(p) = def.params.get(k).filter(|_| k >= first) {
            a.name = Some(Ident { name: p.name.name.clone(), span: a.span });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nasc_core::syntax::{parse, print_file};

    const SRC: &str = "block Down(x: [B, H, W, C], out: int, stride: int = 2) -> [B, H / stride, W / stride, out] {\n    return x |> conv(out, kernel: 3, stride: stride)\n}\n\nmodel M(x: [B, 8, 8, 1]) -> [B, 1, 1, 16] {\n    let y = x |> Down(4) |> Down(8, 2)\n    return y |> Down(16, stride: 2)\n}\n";

    #[test]
    fn a_block_is_specialised_for_the_values_its_calls_pass() {
        let (file, _) = parse(Default::default(), SRC);
        let def = block_def(&file, "Down").unwrap();
        let h_over_stride = Shape(vec![nasc_core::shape::Dim::sym("B"), nasc_core::shape::Dim::sym("stride"), nasc_core::shape::Dim::sym("out")]);
        assert_eq!(spatial_params(def, &[h_over_stride]), vec!["stride".to_string()]);
        let (out, name, what) = specialise(&file, "Down", &["stride".into()], &mut Rng::new(3)).unwrap();
        assert_eq!((name.as_str(), what.as_str()), ("Down2", "Down specialised for stride = 2 as Down2 (3 of 3 calls)"));
        let text = print_file(&out);
        assert!(text.contains("block Down2(x: [B, H, W, C], out: int) -> [B, H / 2, W / 2, out]"), "{text}");
        assert!(text.contains("conv(out, kernel: 3, stride: 2)") && !text.contains("block Down("), "{text}");
        assert!(text.contains("x |> Down2(4) |> Down2(8)") && text.contains("y |> Down2(16)"), "{text}");
        nasc_core::Compilation::from_source("m.nas", &text).unwrap_or_else(|f| panic!("{}\n{text}", f.first_message()));
    }

    #[test]
    fn only_calls_passing_the_same_literal_values_use_the_copy() {
        let src = SRC.replace("Down(8, 2)", "Down(8, 1)").replace("[B, 1, 1, 16]", "[B, 2, 2, 16]");
        let (file, _) = parse(Default::default(), &src);
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..12 {
            let (out, _, what) = specialise(&file, "Down", &["stride".into()], &mut Rng::new(seed)).unwrap();
            let text = print_file(&out);
            assert!(text.contains("block Down("), "the other calls keep the block: {text}");
            nasc_core::Compilation::from_source("m.nas", &text).unwrap_or_else(|f| panic!("{}\n{text}", f.first_message()));
            seen.insert(what);
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            vec!["Down specialised for stride = 1 as Down2 (1 of 3 calls)", "Down specialised for stride = 2 as Down2 (2 of 3 calls)"]
        );
    }
}
