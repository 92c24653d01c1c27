//! Holes with several inputs, `?<...>(a, b)`: a junction joins one chain per input and a tail
//! chain follows it, `add(a |> …, b |> …) |> …` or `concat([a |> …, b |> …], axis: -1) |> …`.
//!
//! This is the authors' `GraphSynthesizer` (REFERENCE-CODE §3.5) for a hole, where there is no
//! original subgraph to take junctions from: the junction is chosen (add or channel concat, in
//! seeded order), each branch gets the shortest chain to the junction's input shape, and the
//! tail is synthesized once for all inputs: every input's path (its branch, the junction, the
//! tail so far) is one synthesis context, and the tail must bring each to the hole's
//! constraints, so they hold for every (input, output) pair of the result.

use super::{Context, Fill, Mode, SynthConfig, SynthError, synthesize, synthesize_contexts};
use crate::ops::{AttrValue, Attrs, OpKind};
use crate::props::{Chain, ChainOp, Target};
use crate::rng::Rng;
use crate::shape::{Dim, Shape};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Junction {
    /// Element-wise sum: every branch ends at the junction's output shape.
    Add,
    /// Concatenation along the last (channel) axis: the output channels are split evenly.
    Concat,
}

impl Junction {
    pub fn name(self) -> &'static str {
        match self {
            Junction::Add => "add",
            Junction::Concat => "concat",
        }
    }

    fn op(self) -> ChainOp {
        junction_op(match self {
            Junction::Add => OpKind::Add,
            Junction::Concat => OpKind::Concat,
        })
    }

    /// The shape each branch must end in so the junction yields `out`; `None` when it cannot.
    fn branch_shapes(self, n: usize, out: &Shape) -> Option<Vec<Shape>> {
        match self {
            Junction::Add => Some(vec![out.clone(); n]),
            Junction::Concat => {
                let c = out.0.last()?.as_int()?;
                let n64 = n as i64;
                if c < n64 || out.rank() < 2 {
                    return None;
                }
                // Even split; the first branches take the remainder.
                Some((0..n64).map(|k| Shape(out.0[..out.rank() - 1].iter().cloned().chain([Dim::int(c / n64 + i64::from(k < c % n64))]).collect())).collect())
            }
        }
    }
}

/// A junction op as synthesis uses it: a concat joins along the last (channel) axis.
pub fn junction_op(op: OpKind) -> ChainOp {
    let attrs = if op == OpKind::Concat { Attrs(vec![("axis", AttrValue::Int(Dim::int(-1)))]) } else { Attrs::default() };
    ChainOp { op, attrs }
}

/// A filled multi-input hole.
#[derive(Clone, Debug)]
pub struct GraphFill {
    pub junction: Junction,
    /// One chain per input, in input order.
    pub branches: Vec<Fill>,
    /// The chain after the junction.
    pub tail: Fill,
    /// Per input, the properties of the whole path from it to the output; params and MACs
    /// are the whole fill's.
    pub paths: Vec<Chain>,
    pub steps: usize,
}

/// Fill a hole with inputs `inputs` (shapes) whose constraints, stated for one input, are
/// `template` (its `input` is replaced per branch and for the tail).
pub fn synthesize_graph(inputs: &[Shape], template: &Target, cfg: &SynthConfig) -> Result<GraphFill, SynthError> {
    let out = template.shape.clone().ok_or_else(|| SynthError::Infeasible("a hole with several inputs needs its output shape".into()))?;
    let mut rng = Rng::new(cfg.seed ^ 0x6EA9_F111);
    let mut order = [Junction::Add, Junction::Concat];
    if rng.below(2) == 1 {
        order.swap(0, 1);
    }
    let mut reasons = Vec::new();
    let mut steps = 0;
    for junction in order {
        match try_junction(junction, inputs, &out, template, cfg, &mut rng, &mut steps) {
            Ok(mut g) => {
                g.steps = steps;
                return Ok(g);
            }
            Err(why) => reasons.push(format!("{}: {why}", junction.name())),
        }
    }
    Err(SynthError::Infeasible(format!("no junction joins the inputs ({})", reasons.join("; "))))
}

fn try_junction(
    junction: Junction,
    inputs: &[Shape],
    out: &Shape,
    template: &Target,
    cfg: &SynthConfig,
    rng: &mut Rng,
    steps: &mut usize,
) -> Result<GraphFill, String> {
    let meets = junction.branch_shapes(inputs.len(), out).ok_or_else(|| format!("the output channels of {out} cannot be split {} ways", inputs.len()))?;
    let mut branches = Vec::new();
    for (k, (input, meet)) in inputs.iter().zip(&meets).enumerate() {
        // Only the shape: the branch is the shortest way there; the tail carries the properties.
        let t = Target { ops: template.ops.clone(), ..Target::shape_only(input, meet) };
        let bcfg = SynthConfig { mode: Mode::Greedy, seed: rng.next_u64(), ..cfg.clone() };
        let fill = synthesize(&t, &bcfg).map_err(|e| format!("input {} ({input} to {meet}): {e}", k + 1))?;
        *steps += fill.steps;
        branches.push(fill);
    }
    let op = junction.op();
    // The tail extends every input's path at once and must satisfy each input's constraints.
    let mut ctx = Vec::new();
    for (k, b) in branches.iter().enumerate() {
        let start = b.chain.through(&op, &meets, k).ok_or("the junction does not apply")?;
        ctx.push(Context { target: Target { input: start.shape.clone(), ..template.clone() }, start });
    }
    let t0 = std::time::Instant::now();
    let (ops, mut paths, tail_steps) =
        synthesize_contexts(&ctx, &SynthConfig { seed: rng.next_u64(), ..cfg.clone() }).map_err(|e| format!("after the {}: {e}", junction.name()))?;
    *steps += tail_steps;
    let chain = Chain::of(&ctx[0].target.input, &ops).ok_or("the tail does not apply")?;
    let tail = Fill { ops, chain, steps: tail_steps, elapsed: t0.elapsed() };
    let (params, macs) = totals(&branches, &tail).ok_or("the fill's size is not a number")?;
    for p in &mut paths {
        (p.params, p.macs) = (params.clone(), macs.clone());
    }
    Ok(GraphFill { junction, branches, tail, paths, steps: 0 })
}

fn totals(branches: &[Fill], tail: &Fill) -> Option<(Dim, Dim)> {
    branches.iter().try_fold((tail.chain.params.clone(), tail.chain.macs.clone()), |(p, m), b| Some((p.add(&b.chain.params).ok()?, m.add(&b.chain.macs).ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::mixing::Mixing;

    fn shape(dims: &[i64]) -> Shape {
        Shape(std::iter::once(Dim::sym("B")).chain(dims.iter().map(|&d| Dim::int(d))).collect())
    }

    #[test]
    fn two_inputs_of_different_sizes_meet_and_satisfy_every_path() {
        let (a, b, out) = (shape(&[16, 16, 8]), shape(&[8, 8, 16]), shape(&[8, 8, 32]));
        let mut t = Target::shape_only(&a, &out);
        t.depth_min = Some(2);
        for seed in 0..6 {
            let g = synthesize_graph(&[a.clone(), b.clone()], &t, &SynthConfig { seed, ..SynthConfig::default() }).unwrap();
            assert_eq!(g.paths.len(), 2);
            for (p, input) in g.paths.iter().zip([&a, &b]) {
                assert_eq!((&p.input, &p.shape), (input, &out));
                assert!(p.depth.value() >= 2, "seed {seed}: depth {}", p.depth.value());
            }
            // The first input must lose half its spatial size on its branch.
            assert!(!g.branches[0].ops.is_empty());
        }
    }

    #[test]
    fn junctions_are_tried_in_both_orders_and_mixing_bounds_hold() {
        let x = shape(&[8, 8, 4]);
        let mut t = Target::shape_only(&x, &x);
        t.mixing = Some(Mixing::identity(4));
        let seen: std::collections::HashSet<&str> = (0..12)
            .map(|seed| synthesize_graph(&[x.clone(), x.clone()], &t, &SynthConfig { seed, ..SynthConfig::default() }).unwrap().junction.name())
            .collect();
        assert_eq!(seen.len(), 2, "{seen:?}");
    }

    #[test]
    fn an_impossible_junction_says_why() {
        // Three inputs cannot share 2 channels by concat, and none can grow 4×4 to 8×8 for add.
        let (x, out) = (shape(&[4, 4, 2]), shape(&[8, 8, 2]));
        let e = synthesize_graph(&[x.clone(), x.clone(), x], &Target::shape_only(&shape(&[4, 4, 2]), &out), &SynthConfig::default()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("no junction joins the inputs") && text.contains("cannot be split 3 ways") && text.contains("input 1"), "{text}");
    }
}
