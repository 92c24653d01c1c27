//! Candidate sources: one self-contained `.nas` file per candidate, its fingerprint, and the
//! pipe chains of a block body that mutations read and rewrite.

use nasc_core::check::Checked;
use nasc_core::diag::Span;
use nasc_core::ir::{Graph, NodeKind};
use nasc_core::ops::{OpKind, spec};
use nasc_core::program::Program;
use nasc_core::props::ChainOp;
use nasc_core::shape::Shape;
use nasc_core::syntax::ast::{BlockDef, Expr, ExprKind, File, Item, ItemKind, Stage, StmtKind};
use nasc_core::syntax::{print_file, visit};
use nasc_core::{Compilation, Failure};
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

/// The program as one file: the blocks the models use from imported files are copied in (in
/// dependency order, imports first), so a candidate checks and trains without its imports.
pub fn flatten(prog: &Program) -> Option<File> {
    let root = prog.root_ast()?;
    let used = reachable_blocks(prog);
    let mut items: Vec<Item> = Vec::new();
    for entry in prog.blocks.iter().filter(|b| b.file != prog.root && used.contains(&b.def.name.name)) {
        if items.iter().any(|i| block_name(i) == Some(entry.def.name.name.as_str())) {
            continue;
        }
        items.push(Item {
            kind: ItemKind::Block(entry.def.clone()),
            span: entry.def.name.span,
            doc: entry.doc.clone(),
            attrs: entry.attrs.clone(),
            detached_comments: vec![],
            comments: vec![],
        });
    }
    items.extend(root.items.iter().filter(|i| !matches!(i.kind, ItemKind::Use(_))).cloned());
    Some(File { items, trailing_comments: root.trailing_comments.clone() })
}

fn block_name(i: &Item) -> Option<&str> {
    match &i.kind {
        ItemKind::Block(b) => Some(b.name.name.as_str()),
        ItemKind::Use(_) => None,
    }
}

/// Names of the blocks the root file's models call, directly or through other blocks.
pub fn reachable_blocks(prog: &Program) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<Arc<BlockDef>> = prog.models().iter().map(|m| m.def.clone()).collect();
    while let Some(def) = todo.pop() {
        for name in called_names(&def) {
            if let Some(b) = prog.block(&name)
                && !b.def.is_model
                && seen.insert(name)
            {
                todo.push(b.def.clone());
            }
        }
    }
    seen
}

fn called_names(def: &BlockDef) -> Vec<String> {
    let mut calls = Vec::new();
    for value in visit::body_values(def) {
        visit::walk(value, &mut |e| match &e.kind {
            ExprKind::Call { callee, .. } => calls.push(callee.name.clone()),
            ExprKind::Pipe { stage, .. } => {
                if let Stage::Call { callee, .. } = stage.as_ref() {
                    calls.push(callee.name.clone());
                }
            }
            _ => {}
        });
    }
    calls
}

/// Visit every maximal pipe chain of a block body (its stages, innermost first) in a fixed
/// order; the visitor may rewrite the stages.
pub fn for_each_chain(body: &mut [nasc_core::syntax::ast::Stmt], f: &mut dyn FnMut(&mut Vec<Stage>)) {
    for stmt in body {
        let (StmtKind::Let { value, .. } | StmtKind::Return(value)) = &mut stmt.kind;
        walk(value, f);
    }
}

fn walk(e: &mut Expr, f: &mut dyn FnMut(&mut Vec<Stage>)) {
    if matches!(e.kind, ExprKind::Pipe { .. }) {
        let span = e.span;
        let (mut base, mut stages) = unpipe(std::mem::replace(e, Expr { kind: ExprKind::Bool(false), span }));
        walk(&mut base, f);
        for s in &mut stages {
            if let Stage::Call { args, .. } = s {
                args.iter_mut().for_each(|a| walk(&mut a.value, f));
            }
        }
        f(&mut stages);
        *e = repipe(base, stages, span);
        return;
    }
    for c in visit::children_mut(e) {
        walk(c, f);
    }
}

pub fn unpipe(mut e: Expr) -> (Expr, Vec<Stage>) {
    let mut stages = Vec::new();
    while let ExprKind::Pipe { input, stage } = e.kind {
        stages.push(*stage);
        e = *input;
    }
    stages.reverse();
    (e, stages)
}

fn repipe(base: Expr, stages: Vec<Stage>, span: Span) -> Expr {
    stages.into_iter().fold(base, |acc, stage| Expr { kind: ExprKind::Pipe { input: Box::new(acc), stage: Box::new(stage) }, span })
}

/// Ops a mutation may replace: single-input ops of the synthesis space. Reshapes, binary ops,
/// attention pieces and reductions are boundaries (paper §5; the authors' sequential mutator).
pub fn is_mutable_op(op: OpKind) -> bool {
    nasc_core::ops::spec(op).role.mutable()
}

/// A maximal run of mutable op stages inside one pipe chain of a block, with what the checker
/// inferred for each op.
#[derive(Clone, Debug)]
pub struct Run {
    pub block: String,
    pub chain: usize,
    /// Index of the first stage in the chain.
    pub start: usize,
    pub ops: Vec<ChainOp>,
    /// Input shape of each op, then the output shape of the last.
    pub shapes: Vec<Shape>,
}

impl Run {
    pub fn input(&self) -> &Shape {
        &self.shapes[0]
    }
    pub fn shape_after(&self, k: usize) -> &Shape {
        &self.shapes[k]
    }
}

/// The runs of one block of a checked program, read from its generic graph.
pub fn runs_of(prog: &Program, checked: &Checked, block: &str) -> Vec<Run> {
    let (Some(entry), Some(g)) = (prog.block(block), checked.graph(block)) else { return vec![] };
    let mut body = entry.def.body.clone();
    let mut runs = Vec::new();
    let mut chain = 0;
    for_each_chain(&mut body, &mut |stages| {
        let mut cur: Option<Run> = None;
        for (i, s) in stages.iter().enumerate() {
            match stage_op(g, s) {
                Some((op, input, output)) => {
                    let run = cur.get_or_insert_with(|| Run { block: block.to_string(), chain, start: i, ops: vec![], shapes: vec![input] });
                    run.ops.push(op);
                    run.shapes.push(output);
                }
                None => runs.extend(cur.take()),
            }
        }
        runs.extend(cur.take());
        chain += 1;
    });
    runs
}

/// The op a pipe stage became in the block's own graph, with its input and output shapes.
pub fn stage_op(g: &Graph, s: &Stage) -> Option<(ChainOp, Shape, Shape)> {
    let Stage::Call { repeat: None, span, .. } = s else { return None };
    let node = g.nodes.iter().find(|n| n.scope == 0 && n.span.range() == span.range())?;
    let NodeKind::Op { op, attrs } = &node.kind else { return None };
    if !is_mutable_op(*op) || node.inputs.len() != 1 || node.outputs.len() != 1 || spec(*op).tensor_args() != 1 {
        return None;
    }
    Some((ChainOp { op: *op, attrs: attrs.clone() }, g.shape(node.inputs[0]).clone(), g.shape(node.outputs[0]).clone()))
}

/// Replace stages `start..start+len` of chain `chain` of `block` by `new`.
pub fn replace_stages(file: &mut File, block: &str, chain: usize, start: usize, len: usize, new: Vec<Stage>) {
    with_block(file, block, |def| {
        let mut k = 0;
        let mut new = Some(new);
        for_each_chain(&mut def.body, &mut |stages| {
            if k == chain
                && let Some(n) = new.take()
            {
                let end = (start + len).min(stages.len());
                stages.splice(start.min(end)..end, n);
            }
            k += 1;
        });
    });
}

/// Run `f` on the named block's definition in `file`.
pub fn with_block(file: &mut File, block: &str, f: impl FnOnce(&mut BlockDef)) {
    for item in &mut file.items {
        if let ItemKind::Block(b) = &mut item.kind
            && b.name.name == block
        {
            f(Arc::make_mut(b));
            return;
        }
    }
}

/// How many recent compilations `compile` keeps.
const RECENT: usize = 8;

/// A candidate's program, checked. Candidates travel as text (the store keeps text, workers
/// receive text), and one process asks for the same candidate several times — to check a
/// mutation, to size it, to train it — so the last few compilations are kept and each candidate
/// is parsed and checked once. Failures are not kept.
pub fn compile(text: &str) -> Result<Arc<Compilation>, Failure> {
    static CACHE: Mutex<VecDeque<(String, Arc<Compilation>)>> = Mutex::new(VecDeque::new());
    let lock = || CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, c)) = lock().iter().find(|(t, _)| t == text) {
        return Ok(c.clone());
    }
    let c = Arc::new(Compilation::from_source("candidate.nas", text)?);
    let mut cache = lock();
    cache.push_front((text.to_string(), c.clone()));
    cache.truncate(RECENT);
    Ok(c)
}

/// Fingerprint of an architecture: a 64-bit FNV-1a hash of its canonical text without comments.
/// Stable across runs and builds (unlike std's hasher), so a store can be resumed by another build.
pub fn fingerprint(file: &File) -> String {
    let text = print_file(file);
    let mut h = nasc_core::rewrite::Fnv::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("").trim();
        if !code.is_empty() {
            h.write(code.as_bytes());
            h.write(b"\n");
        }
    }
    format!("{:016x}", h.0)
}

/// `conv·batch_norm·relu`
pub fn op_names(ops: &[ChainOp]) -> String {
    if ops.is_empty() {
        return "identity".into();
    }
    ops.iter().map(|o| spec(o.op).name).collect::<Vec<_>>().join("·")
}

/// `conv(64, kernel: 3) |> relu`
pub fn ops_text(ops: &[ChainOp]) -> String {
    let span = Span::default();
    ops.iter().map(|o| nasc_core::syntax::print::print_stage(&nasc_core::synth::fill::op_stage(o, span))).collect::<Vec<_>>().join(" |> ")
}

/// A chain's inferred properties as stored with a candidate (`properties` in the store).
pub fn chain_json(c: &nasc_core::props::Chain) -> serde_json::Value {
    serde_json::json!({
        "input": c.input.to_string(),
        "shape": c.shape.to_string(),
        "depth": c.depth.value(),
        "mixing": c.mixing.rows_as_strings(),
    })
}

/// A synthesis target as stored with a candidate.
pub fn target_json(t: &nasc_core::props::Target) -> serde_json::Value {
    serde_json::json!({
        "shape": t.shape.as_ref().map(|s| s.to_string()),
        "depth_at_least": t.depth_min,
        "mixing_at_least": t.mixing.as_ref().map(nasc_core::ops::mixing::Mixing::rows_as_strings),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_candidate_is_checked_once_and_failures_are_not_kept() {
        let text = "model M(x: [B, 8]) -> [B, 3] { return x |> dense(3) }\n";
        let (a, b) = (compile(text).expect("checks"), compile(text).expect("checks"));
        assert!(Arc::ptr_eq(&a, &b), "the second request reuses the first compilation");
        let bad = "model M(x: [B, 8]) -> [B, 3] { return x |> dense(4) }\n";
        assert!(compile(bad).is_err() && compile(bad).is_err());
    }
}
