//! A mutation of a block applied to a random subset of its calls (the authors' mutator; paper
//! §5): the chosen calls get a renamed copy of the block (`BasicBlock` → `BasicBlock2`) that the
//! mutation then rewrites, so the written `.nas` stays readable and the other calls keep the
//! original. When every call is chosen, the block is rewritten in place.

use super::error::NoEdit;
use super::mutate::Edit;
use super::source::{for_each_chain, with_block};
use nasc_core::program::Program;
use nasc_core::rng::Rng;
use nasc_core::syntax::ast::{Arg, Expr, ExprKind, File, Ident, Item, ItemKind, Stage};
use nasc_core::syntax::print::print_stage;
use nasc_core::syntax::visit;
use serde_json::json;
use std::sync::Arc;

/// How many calls of `block` the file's blocks and models make (a repeated stage is one).
fn call_count(file: &File, block: &str) -> usize {
    let mut n = 0;
    visit_calls(file, block, &mut |_, _| n += 1);
    n
}

/// A call of `block` in `e` (directly, or as the stage of a pipe): its arguments and whether
/// its first input is piped.
pub(super) fn call_args<'a>(e: &'a Expr, block: &str) -> Option<(&'a [Arg], bool)> {
    match &e.kind {
        ExprKind::Call { callee, args } if callee.name == block => Some((args, false)),
        ExprKind::Pipe { stage, .. } => match stage.as_ref() {
            Stage::Call { callee, args, .. } if callee.name == block => Some((args, true)),
            _ => None,
        },
        _ => None,
    }
}

/// Every call of `block` in the file's bodies, in source order: `f(arguments, piped)`.
pub(super) fn visit_calls(file: &File, block: &str, f: &mut dyn FnMut(&[Arg], bool)) {
    for item in &file.items {
        let ItemKind::Block(def) = &item.kind else { continue };
        for value in visit::body_values(def) {
            visit::walk(value, &mut |e| {
                if let Some((args, piped)) = call_args(e, block) {
                    f(args, piped);
                }
            });
        }
    }
}

/// Every call of `block` in the file's bodies, mutably, in `visit_calls`' order:
/// `f(k, callee, arguments, piped)` for the k-th.
pub(super) fn visit_calls_mut(file: &mut File, block: &str, f: &mut dyn FnMut(usize, &mut Ident, &mut Vec<Arg>, bool)) {
    let mut k = 0;
    for item in &mut file.items {
        let ItemKind::Block(def) = &mut item.kind else { continue };
        for value in visit::body_values_mut(Arc::make_mut(def)) {
            calls_mut(value, block, f, &mut k);
        }
    }
}

fn calls_mut(e: &mut Expr, block: &str, f: &mut dyn FnMut(usize, &mut Ident, &mut Vec<Arg>, bool), k: &mut usize) {
    let call = match &mut e.kind {
        ExprKind::Call { callee, args } if callee.name == block => Some((callee, args, false)),
        ExprKind::Pipe { stage, .. } => match stage.as_mut() {
            Stage::Call { callee, args, .. } if callee.name == block => Some((callee, args, true)),
            _ => None,
        },
        _ => None,
    };
    if let Some((callee, args, piped)) = call {
        f(*k, callee, args, piped);
        *k += 1;
    }
    for c in visit::children_mut(e) {
        calls_mut(c, block, f, k);
    }
}

/// Choose each call of `block` with probability `p` (at least one). When only some are chosen,
/// return the file with a copy of the block under a fresh name that those calls use, and the
/// name; `None` when every call is chosen (the mutation rewrites the block in place).
pub fn split_calls(file: &File, block: &str, p: f64, rng: &mut Rng) -> Option<(File, String, usize, usize)> {
    let n = call_count(file, block);
    if n < 2 || p >= 1.0 {
        return None;
    }
    let mut chosen: Vec<bool> = (0..n).map(|_| rng.unit() < p).collect();
    if !chosen.iter().any(|c| *c) {
        chosen[rng.below(n)] = true;
    }
    let picked = chosen.iter().filter(|c| **c).count();
    if picked == n {
        return None;
    }
    let name = fresh_name(file, block);
    let mut file = file.clone();
    let at = file.items.iter().position(|i| matches!(&i.kind, ItemKind::Block(d) if d.name.name == block))?;
    let mut copy: Item = file.items[at].clone();
    if let ItemKind::Block(def) = &mut copy.kind {
        Arc::make_mut(def).name.name = name.clone();
    }
    visit_calls_mut(&mut file, block, &mut |k, callee, _, _| {
        if chosen[k] {
            callee.name = name.clone();
        }
    });
    file.items.insert(at + 1, copy);
    Some((file, name, picked, n))
}

/// `Block2`, `Block3`, …: the first name no item of the file and no op has (a copy of
/// `Block2` is `Block3`, not `Block22`).
pub(super) fn fresh_name(file: &File, block: &str) -> String {
    let base = block.trim_end_matches(|c: char| c.is_ascii_digit());
    let base = if base.is_empty() { block } else { base };
    let taken = |n: &str| nasc_core::ops::lookup(n).is_some() || file.items.iter().any(|i| matches!(&i.kind, ItemKind::Block(d) if d.name.name == n));
    (2..).map(|k| format!("{base}{k}")).find(|n| !taken(n)).unwrap_or_else(|| format!("{block}_copy"))
}

/// Delete or duplicate one block call of a model (paper §5): the mutation that changes depth
/// by whole blocks.
pub(super) fn block_call_edit(file: &File, prog: &Program, duplicate: bool, rng: &mut Rng) -> Result<Edit, NoEdit> {
    let calls = block_calls(file, prog);
    // A repeated stage (`Block * n`) is n calls: deleting one of them leaves `Block * (n - 1)`.
    let total: u64 = calls.iter().map(|c| c.4).sum();
    if calls.is_empty() || (!duplicate && total < 2) {
        let what = if duplicate { "duplicate" } else { "delete" };
        return Err(NoEdit(format!("no block call to {what}")));
    }
    let (model, chain, index, text, repeats) = calls[rng.below(calls.len())].clone();
    let mut file = file.clone();
    let mut after = String::new();
    with_block(&mut file, &model, |def| {
        let mut k = 0;
        for_each_chain(&mut def.body, &mut |stages| {
            if k == chain {
                match (repeat_count(&stages[index]), duplicate) {
                    (n, true) if n > 1 => set_repeat(&mut stages[index], n + 1),
                    (_, true) => stages.insert(index + 1, stages[index].clone()),
                    (n, false) if n > 1 => set_repeat(&mut stages[index], n - 1),
                    (_, false) => {
                        stages.remove(index);
                    }
                }
                after = stages.get(index).map(print_stage).unwrap_or_default();
            }
            k += 1;
        });
    });
    let what = if duplicate { "duplicated" } else { "deleted" };
    let description = if repeats > 1 { format!("{what} a call: {text} → {after}") } else { format!("{what} {text}") };
    let properties = json!({ "block_call": text, "edit": if duplicate { "duplicate" } else { "delete" } });
    Ok(Edit::unchecked(file, description, properties))
}

/// How many calls a stage makes: its literal repeat count, else 1.
fn repeat_count(s: &Stage) -> u64 {
    match s {
        Stage::Call { repeat: Some(e), .. } => match &e.kind {
            nasc_core::syntax::ast::ExprKind::Int(i) if i.suffix.is_none() => i.value.max(1),
            _ => 1,
        },
        _ => 1,
    }
}

/// Make a call stage repeat `n` times (`Block` alone for 1, but `Block(..) * 1 for i` when the
/// arguments read the index, which is then 0).
fn set_repeat(s: &mut Stage, n: u64) {
    if let Stage::Call { repeat, index, .. } = s {
        match repeat {
            Some(e) if n > 1 || index.is_some() => {
                e.kind = nasc_core::syntax::ast::ExprKind::Int(nasc_core::syntax::ast::IntLit { value: n.max(1), suffix: None })
            }
            _ if n <= 1 => *repeat = None,
            _ => {}
        }
    }
}

/// (model, chain, stage index, printed stage, calls it makes) of every block call in the models'
/// pipe chains.
fn block_calls(file: &File, prog: &Program) -> Vec<(String, usize, usize, String, u64)> {
    let mut out = Vec::new();
    let mut file = file.clone();
    for m in prog.models() {
        let model = m.def.name.name.clone();
        with_block(&mut file, &model, |def| {
            let mut k = 0;
            for_each_chain(&mut def.body, &mut |stages| {
                for (i, s) in stages.iter().enumerate() {
                    if let Stage::Call { callee, .. } = s
                        && prog.block(&callee.name).is_some_and(|b| !b.def.is_model)
                    {
                        out.push((model.clone(), k, i, print_stage(s), repeat_count(s)));
                    }
                }
                k += 1;
            });
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nasc_core::syntax::{parse, print_file};

    const SRC: &str = "block B(x: [N, 4]) -> [N, 4] {\n    return x |> dense(4) |> relu\n}\n\nblock B2(x: [N, 4]) -> [N, 4] {\n    return x\n}\n\nmodel M(x: [N, 4]) -> [N, 4] {\n    let y = x |> B |> B\n    return B(y) |> B2\n}\n";

    #[test]
    fn some_calls_get_a_renamed_copy_and_all_calls_keep_the_block() {
        let (file, _) = parse(Default::default(), SRC);
        let mut renamed = 0;
        for seed in 0..20 {
            let Some((out, name, picked, n)) = split_calls(&file, "B", 0.5, &mut Rng::new(seed)) else { continue };
            renamed += 1;
            assert_eq!((name.as_str(), n), ("B3", 3), "B2 is taken");
            let text = print_file(&out);
            assert!(text.contains("block B3(x: [N, 4]) -> [N, 4] {\n    return x |> dense(4) |> relu"), "{text}");
            assert_eq!(text.matches("|> B3").count() + text.matches("B3(y)").count(), picked, "{text}");
            assert_eq!(call_count(&out, "B") + call_count(&out, "B3"), 3);
            assert!(nasc_core::Compilation::from_source("m.nas", &text).is_ok(), "{text}");
        }
        assert!(renamed >= 10, "{renamed} of 20 split the calls");
        // One call, or p = 1: the block is rewritten in place.
        assert!(split_calls(&file, "B2", 0.5, &mut Rng::new(1)).is_none());
        assert!(split_calls(&file, "B", 1.0, &mut Rng::new(1)).is_none());
        assert_eq!(fresh_name(&file, "B2"), "B3");
    }
}
