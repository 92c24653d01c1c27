//! Filling holes: progressive synthesis (paper §2.2, §4.2, §5), greedy or stochastic, over a
//! compressed op space of representatives (§4.5) with a second pass that picks concrete kernel
//! sizes, groups and activations; and the enumerative baseline, deduplicated by abstract value.

pub mod fill;
pub mod graph;
mod space;

use crate::props::{Chain, ChainOp, Distance, Target};
use crate::rng::Rng;
use std::collections::HashSet;
use std::time::{Duration, Instant};

pub use space::{Class, Rep, members, representatives};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Stochastic progressive synthesis (what αNAS ships): sample the next op by weight,
    /// switch to greedy near the length limit.
    Progressive,
    /// Always append the op with the smallest distance.
    Greedy,
    /// Breadth-first enumeration of op sequences, deduplicated by abstract value.
    Enumerative,
}

/// How stochastic synthesis weighs a candidate at distance d.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weighting {
    /// 1/(1+d), as the paper states.
    Paper,
    /// 1/(d+0.1)², as the authors' code configures (sharper: nearly greedy).
    Authors,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "progressive" => Ok(Mode::Progressive),
            "greedy" => Ok(Mode::Greedy),
            "enumerative" => Ok(Mode::Enumerative),
            _ => Err(format!("unknown synthesis mode `{s}` (progressive, greedy or enumerative)")),
        }
    }
}

impl std::str::FromStr for Weighting {
    type Err = String;
    fn from_str(s: &str) -> Result<Weighting, String> {
        match s {
            "paper" => Ok(Weighting::Paper),
            "authors" => Ok(Weighting::Authors),
            _ => Err(format!("unknown weighting `{s}` (paper or authors)")),
        }
    }
}

impl Weighting {
    fn weight(self, d: u32) -> f64 {
        match self {
            Weighting::Paper => 1.0 / (1.0 + d as f64),
            Weighting::Authors => 1.0 / (d as f64 + 0.1).powi(2),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SynthConfig {
    pub mode: Mode,
    pub weighting: Weighting,
    pub seed: u64,
    /// Give up beyond this many ops; by default from the target (see [`default_max_len`]).
    pub max_len: Option<usize>,
    /// Length of the subgraph being replaced (evolution): stochastic synthesis turns greedy
    /// once the chain is this long, and may continue past distance 0 while shorter.
    pub original_len: Option<usize>,
    /// Probability of continuing past distance 0 while shorter than the original (paper code: 0.2).
    pub continue_prob: f64,
    /// Stochastic attempts (with derived seeds) before falling back to greedy.
    pub attempts: usize,
    /// Enumerative search stops after this many distinct abstract states.
    pub max_states: usize,
    /// How much to favour each op kind (DeepCoder-style guidance, `nasc evolve --guidance`);
    /// `None` weighs every op alike.
    pub prior: Option<std::sync::Arc<OpPrior>>,
}

/// A weight per op kind that scales the chance synthesis picks it: stochastic steps multiply
/// each candidate's weight by it, greedy ties and the concrete members of a class are tried in
/// a weighted random order. Kinds without an entry weigh 1.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpPrior {
    pub weights: std::collections::BTreeMap<crate::ops::OpKind, f64>,
}

impl OpPrior {
    pub fn weight(&self, op: crate::ops::OpKind) -> f64 {
        self.weights.get(&op).copied().filter(|w| w.is_finite() && *w > 0.0).unwrap_or(1.0)
    }
}

impl Default for SynthConfig {
    fn default() -> SynthConfig {
        SynthConfig {
            mode: Mode::Progressive,
            weighting: Weighting::Paper,
            seed: 0,
            max_len: None,
            original_len: None,
            continue_prob: 0.2,
            attempts: 8,
            max_states: 200_000,
            prior: None,
        }
    }
}

/// A synthesized chain and how it was found.
#[derive(Clone, Debug)]
pub struct Fill {
    pub ops: Vec<ChainOp>,
    pub chain: Chain,
    /// Candidate chains whose properties were computed.
    pub steps: usize,
    pub elapsed: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SynthError {
    /// No chain can meet the target; the reason names the constraint.
    Infeasible(String),
    /// The search ended without a chain that meets the target.
    NotFound { max_len: usize, steps: usize },
}

impl std::fmt::Display for SynthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SynthError::Infeasible(why) => write!(f, "{why}"),
            SynthError::NotFound { max_len, steps } => {
                write!(f, "no chain of at most {max_len} ops found that meets every constraint ({steps} candidates tried)")
            }
        }
    }
}

/// Room for the ops a target needs: one per depth alternation plus one, the shape changes, and
/// slack for mixing and for the stochastic search.
pub fn default_max_len(t: &Target) -> usize {
    let depth = t.depth_min.map_or(0, |d| d as usize + 1);
    let shape = t.shape.as_ref().and_then(|s| crate::props::target::shape_distance(&t.input, s)).unwrap_or(0) as usize;
    (depth + shape + 4).max(6)
}

/// A lower estimate of the ops a target needs: one more than its depth, at least one when the
/// shape or mixing must change.
fn natural_len(t: &Target) -> usize {
    let depth = t.depth_min.map_or(0, |d| d as usize + 1);
    let shape = t.shape.as_ref().is_some_and(|s| *s != t.input);
    let mixing = t.mixing.as_ref().is_some_and(|m| !Chain::identity(&t.input).mixing.at_least(m));
    depth.max(usize::from(shape || mixing))
}

pub fn synthesize(t: &Target, cfg: &SynthConfig) -> Result<Fill, SynthError> {
    let start = Instant::now();
    let ctx = [Context { target: t.clone(), start: Chain::identity(&t.input) }];
    let (ops, mut chains, steps) = synthesize_contexts(&ctx, cfg)?;
    Ok(Fill { ops, chain: chains.remove(0), steps, elapsed: start.elapsed() })
}

/// Where a search starts: a chain the appended ops extend, and the target it must then meet.
/// A hole or a mutation has one context, the empty chain at its input. The tail of a hole with
/// several inputs has one per input, whose chain already holds that input's branch and the
/// junction: the tail must satisfy all of them at once (as the authors' code requires of a
/// block's several instances, REFERENCE-CODE §3.3). Distances add up over contexts.
#[derive(Clone, Debug)]
pub struct Context {
    /// Its `input` is where the appended ops start (it sets the op space and the shape checks).
    pub target: Target,
    pub start: Chain,
}

/// The ops that take every context to its target, with each context's final chain and the
/// number of candidates tried.
pub fn synthesize_contexts(ctx: &[Context], cfg: &SynthConfig) -> Result<(Vec<ChainOp>, Vec<Chain>, usize), SynthError> {
    let first = &ctx.first().ok_or_else(|| SynthError::Infeasible("nothing to synthesize".into()))?.target;
    let max_len = cfg.max_len.unwrap_or_else(|| default_max_len(first));
    if let Some(why) = ctx.iter().find_map(|c| c.target.infeasible(max_len)) {
        return Err(SynthError::Infeasible(why));
    }
    let mut rng = Rng::new(cfg.seed ^ 0x005E_ED0F_A1FA);
    let mut steps = 0;
    let found = match cfg.mode {
        Mode::Enumerative => enumerate(ctx, max_len, cfg.max_states, &mut steps),
        Mode::Greedy => progressive(ctx, max_len, None, cfg, &mut rng, &mut steps),
        Mode::Progressive => {
            let mut found = None;
            for _ in 0..cfg.attempts.max(1) {
                found = progressive(ctx, max_len, Some(cfg.weighting), cfg, &mut rng, &mut steps);
                if found.is_some() {
                    break;
                }
            }
            found.or_else(|| progressive(ctx, max_len, None, cfg, &mut rng, &mut steps))
        }
    };
    let Some(reps) = found else { return Err(SynthError::NotFound { max_len, steps }) };
    let ops = concretize(ctx, reps, cfg.prior.as_deref(), &mut rng, &mut steps);
    match extend_all(ctx, &ops) {
        Some(chains) if distance(ctx, &chains) == Some(0) => Ok((ops, chains, steps)),
        _ => Err(SynthError::NotFound { max_len, steps }),
    }
}

fn starts(ctx: &[Context]) -> Vec<Chain> {
    ctx.iter().map(|c| c.start.clone()).collect()
}

/// Every context's chain extended by one op; `None` if it does not apply to one of them.
fn extend(chains: &[Chain], op: &ChainOp) -> Option<Vec<Chain>> {
    chains.iter().map(|c| c.then(op)).collect()
}

fn extend_all(ctx: &[Context], ops: &[ChainOp]) -> Option<Vec<Chain>> {
    ops.iter().try_fold(starts(ctx), |chains, op| extend(&chains, op))
}

/// The sum of the contexts' distances; `None` if one can no longer be reached.
fn distance(ctx: &[Context], chains: &[Chain]) -> Distance {
    ctx.iter().zip(chains).try_fold(0, |acc, (c, ch)| Some(acc + c.target.distance(ch)?))
}

/// One progressive run. `weighting: None` is greedy throughout.
fn progressive(ctx: &[Context], max_len: usize, weighting: Option<Weighting>, cfg: &SynthConfig, rng: &mut Rng, steps: &mut usize) -> Option<Vec<Rep>> {
    let t = &ctx[0].target;
    let mut chains = starts(ctx);
    let mut ops: Vec<Rep> = Vec::new();
    // Without an original subgraph, the shortest length the target could need stands in for it:
    // stochastic choices up to there, greedy after (the paper: greedy once longer than the
    // original, give up two ops past it).
    let original = cfg.original_len.unwrap_or_else(|| natural_len(t));
    loop {
        if distance(ctx, &chains) == Some(0) {
            let explore = weighting.is_some() && ops.len() < original && cfg.original_len.is_some();
            if !(explore && rng.below(1_000_000) < (cfg.continue_prob * 1e6) as usize) {
                return Some(ops);
            }
        }
        if ops.len() >= max_len {
            return None;
        }
        let mut cands: Vec<(Rep, Vec<Chain>, u32)> = Vec::new();
        for rep in representatives(&chains[0].shape, t) {
            *steps += 1;
            if let Some(next) = extend(&chains, &rep.op)
                && let Some(d) = distance(ctx, &next)
            {
                cands.push((rep, next, d));
            }
        }
        if cands.is_empty() {
            return None;
        }
        // A class weighs as much as its most favoured member (concretization picks that one first).
        let prior = |rep: &Rep| {
            cfg.prior.as_ref().map_or(1.0, |p| space::members(rep, &chains[0].shape, t).iter().map(|m| p.weight(m.op)).fold(p.weight(rep.op.op), f64::max))
        };
        let pick = match weighting.filter(|_| ops.len() < original) {
            Some(w) => sample(rng, &cands.iter().map(|c| w.weight(c.2) * prior(&c.0)).collect::<Vec<_>>()),
            None => {
                let best = cands.iter().map(|c| c.2).min().unwrap_or(0);
                let ties: Vec<usize> = (0..cands.len()).filter(|&i| cands[i].2 == best).collect();
                match &cfg.prior {
                    Some(_) => ties[sample(rng, &ties.iter().map(|&i| prior(&cands[i].0)).collect::<Vec<_>>())],
                    None => ties[rng.below(ties.len())],
                }
            }
        };
        let (rep, next, _) = cands.swap_remove(pick);
        ops.push(rep);
        chains = next;
    }
}

fn sample(rng: &mut Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// The second pass: replace each representative by a random member of its class, keeping every
/// property satisfied (the representative itself always qualifies).
fn concretize(ctx: &[Context], reps: Vec<Rep>, prior: Option<&OpPrior>, rng: &mut Rng, steps: &mut usize) -> Vec<ChainOp> {
    let t = &ctx[0].target;
    let mut ops: Vec<ChainOp> = reps.iter().map(|r| r.op.clone()).collect();
    for i in 0..reps.len() {
        let Some(prefix) = extend_all(ctx, &ops[..i]) else { break };
        let mut members = space::members(&reps[i], &prefix[0].shape, t);
        match prior {
            Some(p) => weighted_shuffle(rng, &mut members, |m| p.weight(m.op)),
            None => shuffle(rng, &mut members),
        }
        for m in members {
            *steps += 1;
            let mut trial = ops.clone();
            trial[i] = m;
            if extend_all(ctx, &trial).is_some_and(|c| distance(ctx, &c) == Some(0)) {
                ops = trial;
                break;
            }
        }
    }
    ops
}

fn shuffle<T>(rng: &mut Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

/// A random order in which heavier items tend to come first: each place is drawn from the
/// items left with probability proportional to weight.
fn weighted_shuffle<T>(rng: &mut Rng, v: &mut [T], weight: impl Fn(&T) -> f64) {
    for i in 0..v.len() {
        let w: Vec<f64> = v[i..].iter().map(&weight).collect();
        let j = i + sample(rng, &w);
        v.swap(i, j);
    }
}

/// Breadth-first enumeration by length; partial chains with equal abstract values (mixing,
/// depth, shape, and resource use when bounded) are kept once.
fn enumerate(ctx: &[Context], max_len: usize, max_states: usize, steps: &mut usize) -> Option<Vec<Rep>> {
    let t = &ctx[0].target;
    let start = starts(ctx);
    if distance(ctx, &start) == Some(0) {
        return Some(Vec::new());
    }
    let key = |chains: &[Chain]| -> Vec<_> {
        chains
            .iter()
            .map(|c| {
                let p = t.max_params.map(|_| c.params.clone());
                let m = t.max_macs.map(|_| c.macs.clone());
                (c.mixing.clone(), c.depth, c.shape.clone(), p, m)
            })
            .collect()
    };
    let mut seen = HashSet::new();
    seen.insert(key(&start));
    let mut frontier: Vec<(Vec<Chain>, Vec<Rep>)> = vec![(start, Vec::new())];
    for _ in 0..max_len {
        let mut next_frontier = Vec::new();
        for (chains, ops) in &frontier {
            for rep in representatives(&chains[0].shape, t) {
                *steps += 1;
                let Some(next) = extend(chains, &rep.op) else { continue };
                let Some(d) = distance(ctx, &next) else { continue };
                let mut path = ops.clone();
                path.push(rep);
                if d == 0 {
                    return Some(path);
                }
                if seen.len() < max_states && seen.insert(key(&next)) {
                    next_frontier.push((next, path));
                }
            }
        }
        if next_frontier.is_empty() {
            return None;
        }
        frontier = next_frontier;
    }
    None
}
