//! Mutation (paper §5, appendix B.3): block duplication and deletion, and four ways of rewriting
//! a subgraph inside a block — property-guided synthesis (`alpha`), random replacement, and the
//! Primer and AutoML-Zero single-op edits — in one framework so strategies compare fairly.
//! A block's mutation applies to a random subset of its calls (`p_call`, the authors' code;
//! ALGORITHMS.md says every call): the chosen calls get a renamed copy (see `calls`). `alpha`
//! also rewrites subgraphs with two inputs around a junction (see `junction`).

use super::calls;
use super::error::{Error, NoEdit};
use super::junction::{self, Replacement, Site};
use super::source::{Run, chain_json, compile, fingerprint, op_names, ops_text, replace_stages, runs_of, target_json};
use super::specialise;
use nasc_core::check::Checked;
use nasc_core::ir::NodeKind;
use nasc_core::ops::mixing::Level;
use nasc_core::ops::{OpKind, spec};
use nasc_core::program::Program;
use nasc_core::props::{Chain, ChainOp, Target};
use nasc_core::rng::Rng;
use nasc_core::shape::Shape;
use nasc_core::syntax::ast::File;
use nasc_core::syntax::print_file;
use nasc_core::synth::fill::op_stage;
use nasc_core::synth::graph::synthesize_graph;
use nasc_core::synth::{Mode, SynthConfig, members, representatives, synthesize};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// αNAS: infer the subgraph's properties, mutate them, synthesize a replacement.
    Alpha,
    /// Replace the subgraph by random ops of random length (1 + geometric), shape kept.
    RandomSubgraph,
    /// Primer: insert, delete or swap one op, or change one op's settings.
    Primer,
    /// AutoML-Zero: Primer's edits plus randomising a whole chain of ops.
    AutomlZero,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Alpha => "alpha",
            Strategy::RandomSubgraph => "random-subgraph",
            Strategy::Primer => "primer",
            Strategy::AutomlZero => "automl-zero",
        }
    }
}

/// Mutation probabilities, with the paper's CIFAR defaults (the authors' config where the
/// paper is silent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MutationConfig {
    /// Duplicate a random block call (paper code: 0.2).
    pub p_duplicate: f64,
    /// Delete a random block call (paper code: 0.2).
    pub p_delete: f64,
    /// Keep growing the chosen subgraph by a neighbouring op (paper code: 0.75).
    pub p_grow: f64,
    /// The subgraph holds at most this fraction of the block's ops (paper code: 0.8).
    pub max_fraction: f64,
    /// Grow the depth change by one (up to `depth_delta_max`) with this probability (0.5).
    pub p_depth: f64,
    pub depth_delta_max: u32,
    /// Drop each mixing pairing with this probability (0.5).
    pub p_mixing: f64,
    /// Drop the shape requirement. The authors' config uses 0 (ALGORITHMS.md says 0.5): nasc
    /// blocks declare their output type, so a fill of another shape could never check.
    pub p_shape: f64,
    /// `random-subgraph`: keep adding ops with this probability (expected length 1 + p/(1−p)).
    pub p_random_grow: f64,
    /// Mutation attempts per candidate before it is recorded as failed (paper code: 1 retry).
    pub attempts: usize,
    /// `alpha`, a junction subgraph: drop one branch of a sum or product (paper code: 0.2).
    #[serde(default = "p_drop_branch")]
    pub p_drop_branch: f64,
    /// Apply a block's mutation to each of its calls with this probability (at least one); the
    /// chosen calls get a renamed copy when not all are chosen (authors' code). Stores from
    /// before this setting rewrote every call (1).
    #[serde(default = "every_call")]
    pub p_call: f64,
    /// Op weights for synthesis from `--guidance ops`, set per candidate from the run's
    /// history (not a setting: never stored).
    #[serde(skip)]
    pub prior: Option<std::sync::Arc<nasc_core::synth::OpPrior>>,
}

fn every_call() -> f64 {
    1.0
}

fn p_drop_branch() -> f64 {
    0.2
}

impl Default for MutationConfig {
    fn default() -> MutationConfig {
        MutationConfig {
            p_duplicate: 0.2,
            p_delete: 0.2,
            p_grow: 0.75,
            max_fraction: 0.8,
            p_depth: 0.5,
            depth_delta_max: 2,
            p_mixing: 0.5,
            p_shape: 0.0,
            p_random_grow: 0.5,
            attempts: 2,
            p_drop_branch: p_drop_branch(),
            p_call: 0.5,
            prior: None,
        }
    }
}

impl MutationConfig {
    /// Every value in its meaningful range (they can come from `--set`); the message names the key.
    pub fn validate(&self) -> Result<(), Error> {
        let probabilities = [
            ("p_duplicate", self.p_duplicate),
            ("p_delete", self.p_delete),
            ("p_depth", self.p_depth),
            ("p_mixing", self.p_mixing),
            ("p_shape", self.p_shape),
            ("p_drop_branch", self.p_drop_branch),
            ("p_call", self.p_call),
        ];
        for (key, p) in probabilities {
            in_range(key, p, 0.0, 1.0)?;
        }
        // A growth probability of 1 would never stop growing.
        in_range("p_grow", self.p_grow, 0.0, 0.99)?;
        in_range("p_random_grow", self.p_random_grow, 0.0, 0.99)?;
        if !(self.max_fraction > 0.0 && self.max_fraction <= 1.0) {
            return Err(Error::Setting(format!("`max_fraction` must be above 0 and at most 1, found {}", self.max_fraction)));
        }
        in_range("depth_delta_max", self.depth_delta_max as f64, 0.0, 64.0)?;
        in_range("attempts", self.attempts as f64, 1.0, 100.0)
    }
}

/// `Err` naming `key` unless `lo <= v <= hi`.
pub fn in_range(key: &str, v: f64, lo: f64, hi: f64) -> Result<(), Error> {
    if (lo..=hi).contains(&v) { Ok(()) } else { Err(Error::Setting(format!("`{key}` must be from {lo} to {hi}, found {v}"))) }
}

/// A child architecture.
#[derive(Clone, Debug)]
pub struct Mutation {
    pub text: String,
    pub fingerprint: String,
    /// In words, e.g. `ConvBnRelu: depth 2→3, dropped C→features; conv·batch_norm·relu → …`.
    pub description: String,
    /// What was inferred, asked for and found (JSON, stored with the candidate).
    pub properties: serde_json::Value,
}

/// An edit of the parent's AST, before it is checked.
pub(super) struct Edit {
    pub(super) file: File,
    pub(super) description: String,
    pub(super) properties: serde_json::Value,
    verify: Option<Verify>,
    /// A junction subgraph's replacement, re-checked the same way.
    graph_check: Option<junction::Check>,
}

impl Edit {
    /// An edit that needs no re-check (block calls deleted or duplicated).
    pub(super) fn unchecked(file: File, description: String, properties: serde_json::Value) -> Edit {
        Edit { file, description, properties, verify: None, graph_check: None }
    }
}

/// Where a synthesized fill landed and what it had to satisfy, to re-check from the child's source.
struct Verify {
    block: String,
    chain: usize,
    start: usize,
    len: usize,
    input: Shape,
    target: Target,
}

/// Mutate a parent (checked clean). `Err` says why every attempt failed (synthesis failure,
/// a child that does not check, or an unchanged architecture): recorded, not trained.
pub fn mutate(parent: &str, strategy: Strategy, cfg: &MutationConfig, rng: &mut Rng) -> Result<Mutation, NoEdit> {
    let parent = compile(parent).map_err(|f| format!("the parent does not check: {}", f.first_message()))?;
    let (prog, checked) = (&parent.program, &parent.checked);
    let file = prog.root_ast().cloned().ok_or("the parent has no source")?;
    let parent_fp = fingerprint(&file);
    let mut why = Vec::new();
    for _ in 0..cfg.attempts.max(1) {
        let edit = match pick_edit(prog, checked, &file, strategy, cfg, rng) {
            Ok(e) => e,
            Err(e) => {
                why.push(e.0);
                continue;
            }
        };
        match finish(edit, &parent_fp) {
            Ok(m) => return Ok(m),
            Err(e) => why.push(e.0),
        }
    }
    Err(NoEdit(why.join("; ")))
}

fn pick_edit(prog: &Program, checked: &Checked, file: &File, strategy: Strategy, cfg: &MutationConfig, rng: &mut Rng) -> Result<Edit, NoEdit> {
    let u = rng.unit();
    if u < cfg.p_duplicate {
        return calls::block_call_edit(file, prog, true, rng);
    }
    if u < cfg.p_duplicate + cfg.p_delete {
        return calls::block_call_edit(file, prog, false, rng);
    }
    let units = mutable_units(prog, checked);
    if units.is_empty() {
        return Err(NoEdit::from("no block has a chain of ops to mutate"));
    }
    let (block, runs) = &units[rng.below(units.len())];
    // alpha also rewrites junctions (sums, products, concats) with the ops after them.
    let sites = if strategy == Strategy::Alpha { junction::sites(prog, checked, block) } else { vec![] };
    let k = rng.below(runs.len() + sites.len());
    // A run whose spatial dims depend on a scalar parameter is rewritten in a copy of the block
    // specialised for one call's values; otherwise some of the block's calls get a renamed copy,
    // which the edit then rewrites.
    let specialised = runs.get(k).and_then(|run| specialised_run(prog, file, block, run, k, rng));
    let (file, name, calls_note, run) = match specialised {
        Some((f, name, note, run)) => (f, name, Some(note), Some(run)),
        None => match calls::split_calls(file, block, cfg.p_call, rng) {
            Some((f, name, picked, n)) => (f, name.clone(), Some(format!("{picked} of {n} calls of {block}, now {name}")), None),
            None => (file.clone(), block.clone(), None, None),
        },
    };
    let block_ops = block_op_count(checked, block);
    let mut edit = if k >= runs.len() {
        junction_edit(&file, &Site { block: name, ..sites[k - runs.len()].clone() }, cfg, rng)?
    } else {
        let run = &run.unwrap_or_else(|| Run { block: name, ..runs[k].clone() });
        match strategy {
            Strategy::Alpha => alpha_edit(&file, run, block_ops, cfg, rng)?,
            Strategy::RandomSubgraph => random_edit(&file, run, block_ops, cfg, rng)?,
            Strategy::Primer => primer_edit(&file, run, false, rng)?,
            Strategy::AutomlZero => primer_edit(&file, run, true, rng)?,
        }
    };
    if let Some(note) = calls_note {
        edit.description = format!("{} ({note})", edit.description);
        edit.properties["calls"] = json!(note);
    }
    Ok(edit)
}

/// Run `k` of `block` in a copy of the block specialised for one call's values of the scalar
/// parameters its spatial dims mention (see `specialise`), with the file holding the copy.
fn specialised_run(prog: &Program, file: &File, block: &str, run: &Run, k: usize, rng: &mut Rng) -> Option<(File, String, String, Run)> {
    let def = &prog.block(block)?.def;
    let params = specialise::spatial_params(def, &run.shapes);
    if params.is_empty() {
        return None;
    }
    let (file, name, note) = specialise::specialise(file, block, &params, rng)?;
    let child = compile(&print_file(&file)).ok()?;
    let run = runs_of(&child.program, &child.checked, &name).into_iter().nth(k)?;
    Some((file, name, note, run))
}

/// Check the edited program and describe it; a child equal to its parent is no child.
fn finish(edit: Edit, parent_fp: &str) -> Result<Mutation, NoEdit> {
    let text = print_file(&edit.file);
    let child = match compile(&text) {
        Ok(c) => c,
        Err(f) => {
            let d = f.diagnostics.iter().find(|d| d.is_error());
            return Err(NoEdit(format!("{}: the child does not check: {} [{}]", edit.description, f.first_message(), d.map_or("?", |d| d.code.as_str()))));
        }
    };
    let fp = fingerprint(&edit.file);
    if fp == parent_fp {
        return Err(NoEdit(format!("{}: unchanged architecture", edit.description)));
    }
    let mut properties = edit.properties;
    let checked = match (&edit.verify, &edit.graph_check) {
        (Some(v), _) => Some(verify(&child.program, &child.checked, v)),
        (None, Some(c)) => Some(junction::verify(&child.program, &child.checked, c)),
        (None, None) => None,
    };
    if let Some(ok) = checked {
        properties["verified"] = json!(ok);
        if !ok {
            return Err(NoEdit(format!("{}: internal error: the fill does not satisfy its target in the child", edit.description)));
        }
    }
    Ok(Mutation { text, fingerprint: fp, description: edit.description, properties })
}

/// Re-infer the fill's properties from the child's own checked graph.
fn verify(prog: &Program, checked: &Checked, v: &Verify) -> bool {
    if v.len == 0 {
        return v.target.satisfied(&Chain::identity(&v.input));
    }
    runs_of(prog, checked, &v.block).iter().filter(|r| r.chain == v.chain && r.start <= v.start && v.start + v.len <= r.start + r.ops.len()).any(|r| {
        let k = v.start - r.start;
        Chain::of(r.shape_after(k), &r.ops[k..k + v.len]).is_some_and(|c| v.target.satisfied(&c))
    })
}

/// The blocks whose bodies mutations rewrite, each with its runs of ops: the blocks the model
/// calls; the model itself when it calls none (the paper keeps stems and heads fixed).
pub fn mutable_units(prog: &Program, checked: &Checked) -> Vec<(String, Vec<Run>)> {
    let mut units: Vec<(String, Vec<Run>)> = super::source::reachable_blocks(prog)
        .into_iter()
        .map(|b| {
            let runs = runs_of(prog, checked, &b);
            (b, runs)
        })
        .filter(|(_, r)| !r.is_empty())
        .collect();
    if units.is_empty() {
        for m in prog.models() {
            let runs = runs_of(prog, checked, &m.def.name.name);
            if !runs.is_empty() {
                units.push((m.def.name.name.clone(), runs));
            }
        }
    }
    units
}

fn block_op_count(checked: &Checked, block: &str) -> usize {
    checked.graph(block).map_or(1, |g| g.nodes.iter().filter(|n| n.scope == 0 && matches!(n.kind, NodeKind::Op { .. })).count())
}

/// A connected sub-run `[a, b)` of a run of `n` ops: start at a random op, then add a neighbour
/// with probability `p_grow`, up to `max(1, ⌈max_fraction · block ops⌉)` ops (paper code).
fn pick_subrun(n: usize, block_ops: usize, cfg: &MutationConfig, rng: &mut Rng) -> (usize, usize) {
    let max_len = ((cfg.max_fraction * block_ops as f64).ceil() as usize).max(1);
    let a = rng.below(n);
    let (mut a, mut b) = (a, a + 1);
    while b - a < max_len && rng.unit() < cfg.p_grow {
        match (a > 0, b < n) {
            (true, true) if rng.below(2) == 0 => a -= 1,
            (_, true) => b += 1,
            (true, false) => a -= 1,
            (false, false) => break,
        }
    }
    (a, b)
}

fn alpha_edit(file: &File, run: &Run, block_ops: usize, cfg: &MutationConfig, rng: &mut Rng) -> Result<Edit, NoEdit> {
    let (a, b) = pick_subrun(run.ops.len(), block_ops, cfg, rng);
    let (input, output, ops) = (run.shape_after(a), run.shape_after(b), &run.ops[a..b]);
    let orig = Chain::of(input, ops).ok_or_else(|| format!("{}: the subgraph's properties cannot be inferred", run.block))?;
    let (target, changes) = mutate_properties(&orig, output, cfg, rng);
    let synth = SynthConfig { seed: rng.next_u64(), original_len: Some(ops.len()), prior: cfg.prior.clone(), ..SynthConfig::default() };
    let fill = synthesize(&target, &synth).map_err(|e| format!("{}: {}: synthesis failed: {e}", run.block, changes))?;
    let description = format!("{}: {changes}; {}", run.block, change_text(ops, &fill.ops));
    let properties = json!({
        "block": run.block,
        "subgraph": ops_text(ops),
        "inferred": chain_json(&orig),
        "target": target_json(&target),
        "fill": ops_text(&fill.ops),
        "fill_properties": chain_json(&fill.chain),
    });
    let verify = Verify { block: run.block.clone(), chain: run.chain, start: run.start + a, len: fill.ops.len(), input: input.clone(), target };
    let file = splice(file, run, a, b, &fill.ops);
    Ok(Edit { file, description, properties, verify: Some(verify), graph_check: None })
}

/// A junction subgraph (two inputs): infer each input's path, mutate, and synthesize a new
/// two-input subgraph, or drop one branch of a sum or product (see `junction`).
fn junction_edit(file: &File, site: &Site, cfg: &MutationConfig, rng: &mut Rng) -> Result<Edit, NoEdit> {
    let block = &site.block;
    let paths = site.paths().ok_or_else(|| format!("{block}: the junction's properties cannot be inferred"))?;
    let (template, changes) = mutate_properties(&paths[0], &site.output, cfg, rng);
    let targets: Vec<Target> = site.inputs.iter().map(|i| Target { input: i.clone(), ..template.clone() }).collect();
    let synth = SynthConfig { seed: rng.next_u64(), original_len: Some(site.tail.len() + 1), prior: cfg.prior.clone(), ..SynthConfig::default() };
    let before = format!("{}{}", spec(site.junction).name, site.tail.iter().map(|o| format!("·{}", spec(o.op).name)).collect::<String>());
    let drop = site.junction != OpKind::Concat && rng.unit() < cfg.p_drop_branch;
    let (file, expr, check, after) = if drop {
        let keep = rng.below(2);
        let fill = synthesize(&targets[keep], &synth).map_err(|e| format!("{block}: {changes}, dropped branch {}: synthesis failed: {e}", 2 - keep))?;
        let (file, expr) = junction::rewrite(file, site, Replacement::Keep { operand: keep, ops: &fill.ops }).ok_or("the junction was not found")?;
        let check = junction::Check {
            block: block.clone(),
            text: String::new(),
            dropped: true,
            branches: vec![fill.ops.len()],
            tail: 0,
            targets: vec![targets[keep].clone()],
        };
        (file, expr, check, format!("branch {} dropped, {}", 2 - keep, op_names(&fill.ops)))
    } else {
        let g = synthesize_graph(&site.inputs, &template, &synth).map_err(|e| format!("{block}: {changes}: synthesis failed: {e}"))?;
        let (file, expr) = junction::rewrite(file, site, Replacement::Graph(&g)).ok_or("the junction was not found")?;
        let branches = g.branches.iter().map(|b| b.ops.len()).collect();
        let check = junction::Check { block: block.clone(), text: String::new(), dropped: false, branches, tail: g.tail.ops.len(), targets };
        let shown: Vec<String> = g.branches.iter().map(|b| op_names(&b.ops)).collect();
        (file, expr, check, format!("{}({}) then {}", g.junction.name(), shown.join(", "), op_names(&g.tail.ops)))
    };
    let text = nasc_core::syntax::print::print_expr(&expr, 0);
    let properties = json!({
        "block": block,
        "subgraph": before,
        "inputs": site.inputs.iter().map(Shape::to_string).collect::<Vec<_>>(),
        "inferred": paths.iter().map(chain_json).collect::<Vec<_>>(),
        "target": target_json(&template),
        "fill": text,
    });
    let description = format!("{block}: {changes}; {before} → {after}");
    Ok(Edit { file: mark_rewritten(file, block), description, properties, verify: None, graph_check: Some(junction::Check { text, ..check }) })
}

/// The mutated target (paper §5): depth kept or moved by up to ±2, each mixing pairing dropped
/// with `p_mixing`, the shape requirement dropped with `p_shape`. Returns it with a description.
pub fn mutate_properties(orig: &Chain, output: &Shape, cfg: &MutationConfig, rng: &mut Rng) -> (Target, String) {
    let d0 = orig.depth.value();
    let mut delta = 0;
    while delta < cfg.depth_delta_max && rng.unit() < cfg.p_depth {
        delta += 1;
    }
    let d1 = if rng.below(2) == 0 { d0 + delta } else { d0.saturating_sub(delta) };
    let mut mixing = orig.mixing.clone();
    let mut dropped = Vec::new();
    for i in 0..mixing.rows {
        for j in 0..mixing.cols {
            if mixing.get(i, j) != Level::X && rng.unit() < cfg.p_mixing {
                mixing.set(i, j, Level::X);
                dropped.push(format!("{}→{}", dim_name(&orig.input, i), dim_name(output, j)));
            }
        }
    }
    let keep_shape = rng.unit() >= cfg.p_shape;
    let mut words = vec![if d1 == d0 { format!("depth {d0} kept") } else { format!("depth {d0}→{d1}") }];
    words.push(if dropped.is_empty() { "mixing kept".into() } else { format!("dropped {}", dropped.join(", ")) });
    if !keep_shape {
        words.push("dropped the shape".into());
    }
    let any_mixing = (0..mixing.rows).any(|i| (0..mixing.cols).any(|j| mixing.get(i, j) != Level::X));
    let target = Target {
        shape: keep_shape.then(|| output.clone()),
        depth_min: (d1 > 0).then_some(d1),
        mixing: any_mixing.then_some(mixing),
        ..Target::shape_only(&orig.input, output)
    };
    (target, words.join(", "))
}

fn dim_name(s: &Shape, i: usize) -> String {
    s.0.get(i).map_or_else(|| format!("#{i}"), |d| d.to_string())
}

fn random_edit(file: &File, run: &Run, block_ops: usize, cfg: &MutationConfig, rng: &mut Rng) -> Result<Edit, NoEdit> {
    let (a, b) = pick_subrun(run.ops.len(), block_ops, cfg, rng);
    let mut len = 1;
    while len < 8 && rng.unit() < cfg.p_random_grow {
        len += 1;
    }
    let ops = random_chain(run.shape_after(a), run.shape_after(b), len, rng)?;
    let description = format!("{}: random {} ops; {}", run.block, len, change_text(&run.ops[a..b], &ops));
    let properties = json!({ "block": run.block, "subgraph": ops_text(&run.ops[a..b]), "replacement": ops_text(&ops) });
    Ok(Edit { file: splice(file, run, a, b, &ops), description, properties, verify: None, graph_check: None })
}

/// Primer's single-op edits; AutoML-Zero adds randomising the whole run.
fn primer_edit(file: &File, run: &Run, automl_zero: bool, rng: &mut Rng) -> Result<Edit, NoEdit> {
    let n = run.ops.len();
    let kinds = if automl_zero { 5 } else { 4 };
    let mut ops = run.ops.clone();
    let what = match rng.below(kinds) {
        0 => {
            let p = rng.below(n + 1);
            let op = random_op(run.shape_after(p), run.shape_after(p), rng).ok_or("no op applies")?;
            ops.insert(p, op);
            format!("inserted an op at {p}")
        }
        1 => {
            let p = rng.below(n);
            ops.remove(p);
            format!("deleted op {p}")
        }
        2 if n >= 2 => {
            let p = rng.below(n - 1);
            ops.swap(p, p + 1);
            format!("swapped ops {p} and {}", p + 1)
        }
        2 => return Err(NoEdit(format!("{}: nothing to swap", run.block))),
        3 => {
            let p = rng.below(n);
            let alts = same_kind_members(&ops[p], run.shape_after(p));
            if alts.is_empty() {
                return Err(NoEdit(format!("{}: `{}` has no other setting", run.block, op_names(&ops[p..p + 1]))));
            }
            ops[p] = alts[rng.below(alts.len())].clone();
            format!("changed op {p}")
        }
        _ => {
            ops = random_chain(run.input(), run.shape_after(n), n, rng)?;
            "randomised the chain".to_string()
        }
    };
    let description = format!("{}: {what}; {}", run.block, change_text(&run.ops, &ops));
    let properties = json!({ "block": run.block, "edit": what, "before": ops_text(&run.ops), "after": ops_text(&ops) });
    Ok(Edit { file: splice(file, run, 0, n, &ops), description, properties, verify: None, graph_check: None })
}

/// `conv·relu → conv·gelu`, or the ops with their arguments when only arguments changed.
fn change_text(before: &[ChainOp], after: &[ChainOp]) -> String {
    let (b, a) = (op_names(before), op_names(after));
    if a == b { format!("{} → {}", ops_text(before), ops_text(after)) } else { format!("{b} → {a}") }
}

/// Other settings of the same op (kernel, dilation, groups, features, activation stays).
fn same_kind_members(op: &ChainOp, at: &Shape) -> Vec<ChainOp> {
    let t = Target::shape_only(at, at);
    let mut out: Vec<ChainOp> = Vec::new();
    for rep in representatives(at, &t) {
        for m in members(&rep, at, &t) {
            if m.op == op.op && m != *op && !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

/// A random op of the synthesis space applicable at `cur`, with channel counts aimed at `want`.
fn random_op(cur: &Shape, want: &Shape, rng: &mut Rng) -> Option<ChainOp> {
    let t = Target::shape_only(cur, want);
    let reps = representatives(cur, &t);
    if reps.is_empty() {
        return None;
    }
    let rep = &reps[rng.below(reps.len())];
    let ms = members(rep, cur, &t);
    (!ms.is_empty()).then(|| ms[rng.below(ms.len())].clone())
}

/// `n` random ops from `input`, completed greedily to `output`'s shape when they miss it.
fn random_chain(input: &Shape, output: &Shape, n: usize, rng: &mut Rng) -> Result<Vec<ChainOp>, NoEdit> {
    let mut chain = Chain::identity(input);
    let mut ops = Vec::new();
    for _ in 0..n {
        let Some(op) = random_op(&chain.shape, output, rng) else { break };
        if let Some(next) = chain.then(&op) {
            chain = next;
            ops.push(op);
        }
    }
    if chain.shape != *output {
        let t = Target::shape_only(&chain.shape, output);
        let cfg = SynthConfig { mode: Mode::Greedy, seed: rng.next_u64(), ..SynthConfig::default() };
        let fill = synthesize(&t, &cfg).map_err(|e| format!("a random chain cannot reach {output}: {e}"))?;
        ops.extend(fill.ops);
    }
    Ok(ops)
}

/// The file with ops `a..b` of `run` replaced by `new`.
fn splice(file: &File, run: &Run, a: usize, b: usize, new: &[ChainOp]) -> File {
    let mut file = file.clone();
    let span = nasc_core::diag::Span::default();
    let stages = new.iter().map(|o| op_stage(o, span)).collect();
    replace_stages(&mut file, &run.block, run.chain, run.start + a, b - a, stages);
    mark_rewritten(file, &run.block)
}

/// The block's doc described the old body.
fn mark_rewritten(mut file: File, block: &str) -> File {
    for item in &mut file.items {
        if matches!(&item.kind, nasc_core::syntax::ast::ItemKind::Block(d) if d.name.name == block) {
            item.doc = vec![" Rewritten by `nasc evolve`.".into()];
        }
    }
    file
}

/// Duplicate (a copy right after it) or delete a random block call of the model.
#[cfg(test)]
#[path = "mutate_tests.rs"]
mod tests;
