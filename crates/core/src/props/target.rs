//! Targets (what a hole or a mutation asks for), distances (paper §4.4) and satisfaction.

use super::{Chain, named_mixing};
use crate::ir::{Bound, HoleConstraint, HoleSpec};
use crate::ops::mixing::Mixing;
use crate::ops::{OpKind, spec};
use crate::shape::{Dim, Shape};

/// Distance to a target: `None` is infinite (the target can no longer be reached by appending).
pub type Distance = Option<u32>;

/// The properties a synthesized chain must have.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub input: Shape,
    /// Required output shape; `None` when dropped.
    pub shape: Option<Shape>,
    pub depth_min: Option<u32>,
    pub depth_max: Option<u32>,
    /// Lower bound on mixing, input dims × output dims.
    pub mixing: Option<Mixing>,
    /// `mixing = ...`: exactly this matrix.
    pub mixing_exact: bool,
    pub max_params: Option<i64>,
    pub max_macs: Option<i64>,
    /// Only these ops may be used.
    pub ops: Option<Vec<OpKind>>,
}

impl Target {
    /// A target that only fixes the output shape.
    pub fn shape_only(input: &Shape, output: &Shape) -> Target {
        Target {
            input: input.clone(),
            shape: Some(output.clone()),
            depth_min: None,
            depth_max: None,
            mixing: None,
            mixing_exact: false,
            max_params: None,
            max_macs: None,
            ops: None,
        }
    }

    /// The target of a hole with one input. `Err` names a constraint that cannot be stated
    /// (a mixing matrix of the wrong size).
    pub fn from_hole(h: &HoleSpec, input: &Shape, output: &Shape) -> Result<Target, String> {
        let mut t = Target::shape_only(input, output);
        for c in &h.constraints {
            match c {
                HoleConstraint::Depth(b, n) => {
                    let n = *n as u32;
                    match b {
                        Bound::AtLeast => t.depth_min = Some(n),
                        Bound::AtMost => t.depth_max = Some(n),
                        Bound::Exactly => (t.depth_min, t.depth_max) = (Some(n), Some(n)),
                    }
                }
                HoleConstraint::Mixing(b, m) => {
                    let matrix =
                        named_mixing(m, input.rank()).ok_or_else(|| format!("the mixing matrix must be {0}×{0} for a rank-{0} input {input}", input.rank()))?;
                    t.mixing = Some(matrix);
                    t.mixing_exact = *b == Bound::Exactly;
                }
                HoleConstraint::Shape(s) => t.shape = Some(s.clone()),
                HoleConstraint::Params(n) => t.max_params = Some(*n),
                HoleConstraint::Macs(n) => t.max_macs = Some(*n),
                HoleConstraint::Ops(ops) => t.ops = Some(ops.clone()),
            }
        }
        Ok(t)
    }

    pub fn allows(&self, op: OpKind) -> bool {
        self.ops.as_ref().is_none_or(|v| v.contains(&op))
    }

    /// The batch symbol of the input (set to 1 when comparing MACs with a bound).
    fn batch_one(&self) -> impl Fn(&str) -> Option<Dim> + '_ {
        move |s: &str| {
            let b = self.input.0.first()?;
            (*b == Dim::sym(s)).then(Dim::one)
        }
    }

    /// Total distance of a chain to this target; 0 means satisfied.
    pub fn distance(&self, c: &Chain) -> Distance {
        let mut d = 0;
        if let Some(s) = &self.shape {
            d += shape_distance(&c.shape, s)?;
        }
        if let Some(max) = self.depth_max
            && c.depth.value() > max
        {
            return None;
        }
        if let Some(min) = self.depth_min {
            d += min.saturating_sub(c.depth.value());
        }
        if let Some(m) = &self.mixing {
            if m.rows != c.mixing.rows || m.cols != c.mixing.cols {
                return None;
            }
            // Mixing only grows along a chain, so exceeding an exact bound is final.
            if self.mixing_exact && m.shortfall(&c.mixing) > 0 {
                return None;
            }
            d += c.mixing.shortfall(m) as u32;
        }
        if let Some(max) = self.max_params {
            // Symbolic counts cannot be compared: the fill reports that before searching.
            if c.params.as_int().is_none_or(|p| p > max) {
                return None;
            }
        }
        if let Some(max) = self.max_macs {
            let macs = c.macs.substitute(&self.batch_one()).ok()?;
            if macs.as_int().is_none_or(|m| m > max) {
                return None;
            }
        }
        Some(d)
    }

    pub fn satisfied(&self, c: &Chain) -> bool {
        self.distance(c) == Some(0)
    }

    /// Why no chain can meet this target, found before any search; `None` if none is known.
    pub fn infeasible(&self, max_len: usize) -> Option<String> {
        if let Some(s) = &self.shape {
            if let Some(why) = shape_infeasible(&self.input, s) {
                return Some(why);
            }
            if let Some(why) = self.vocabulary_infeasible(s) {
                return Some(why);
            }
            if let Some(why) = self.budget_infeasible(s) {
                return Some(why);
            }
        }
        if let Some(min) = self.depth_min {
            if min as usize + 1 > max_len {
                return Some(format!("depth >= {min} needs at least {} ops, but synthesis is limited to {max_len}", min + 1));
            }
            let lin = spec_linear_allowed(self, true);
            let non = spec_linear_allowed(self, false);
            if min > 0 && !(lin && non) {
                return Some(format!("depth >= {min} needs both linear and non-linear ops, but `ops in {{..}}` allows only one kind"));
            }
        }
        if let Some(m) = &self.mixing {
            let r = self.input.rank();
            if m.rows != r {
                return Some(format!("the mixing bound has {} rows but the input has rank {r}", m.rows));
            }
            if r > 0 {
                let bad = (0..m.cols).find(|&j| j > 0 && m.get(0, j) > crate::ops::mixing::Level::X);
                if let Some(j) = bad {
                    return Some(format!("mixing asks batch dim 0 to pair with dim {j}, but no op mixes different examples"));
                }
                if m.get(0, 0) > crate::ops::mixing::Level::O {
                    return Some("mixing asks for more than one-to-one on the batch dim, but no op mixes different examples".into());
                }
            }
        }
        None
    }

    fn vocabulary_infeasible(&self, want: &Shape) -> Option<String> {
        let Some(ops) = &self.ops else { return None };
        let names = || ops.iter().map(|o| spec(*o).name).collect::<Vec<_>>().join(", ");
        let (cur, r) = (&self.input, self.input.rank());
        if r > 0 && cur.0[r - 1] != want.0[r - 1] && !ops.iter().any(|o| spec(*o).role.changes.channels) {
            return Some(format!("channels must change from {} to {}, but `ops in {{{}}}` has neither dense nor conv", cur.0[r - 1], want.0[r - 1], names()));
        }
        let spatial_change = (1..r.saturating_sub(1)).any(|i| cur.0[i] != want.0[i]);
        if spatial_change && !ops.iter().any(|o| spec(*o).role.changes.spatial) {
            return Some(format!("spatial dims must shrink, but `ops in {{{}}}` has no conv or pooling", names()));
        }
        None
    }

    fn budget_infeasible(&self, want: &Shape) -> Option<String> {
        let max = self.max_params?;
        let r = self.input.rank();
        let (Some(cin), Some(cout)) = (self.input.0.get(r.wrapping_sub(1))?.as_int(), want.0.get(r.wrapping_sub(1))?.as_int()) else {
            return Some("a `params` bound needs concrete channel counts; this hole's shapes are symbolic".into());
        };
        if cin != cout {
            // A dense or grouped 1×1 conv needs cin*cout/groups weights; groups divide both.
            let least = cin * cout / gcd(cin, cout);
            if least > max {
                return Some(format!("changing channels from {cin} to {cout} needs at least {least} parameters, but params <= {max}"));
            }
        }
        None
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.abs().max(1) } else { gcd(b, a % b) }
}

fn spec_linear_allowed(t: &Target, linear: bool) -> bool {
    use crate::ops::Linearity;
    let want = if linear { Linearity::Linear } else { Linearity::NonLinear };
    crate::ops::catalog().iter().any(|s| s.linearity == want && t.allows(s.kind))
}

/// Shape distance (paper §4.4): channels differ → 1, plus one per spatial dim still to reduce;
/// infinite unless every current spatial dim is a whole multiple of the target's.
pub fn shape_distance(cur: &Shape, want: &Shape) -> Distance {
    let r = cur.rank();
    if r != want.rank() || r == 0 || cur.0[0] != want.0[0] {
        return None;
    }
    let mut d = u32::from(r > 1 && cur.0[r - 1] != want.0[r - 1]);
    for i in 1..r.saturating_sub(1) {
        if cur.0[i] == want.0[i] {
            continue;
        }
        let q = cur.0[i].div(&want.0[i]).ok()?.as_int()?;
        if q <= 1 || r != 4 {
            return None;
        }
        d += 1;
    }
    Some(d)
}

/// Why no chain maps `cur` to `want`, when that is certain.
fn shape_infeasible(cur: &Shape, want: &Shape) -> Option<String> {
    if cur.rank() != want.rank() {
        return Some(format!("synthesized ops keep the rank, but the input is rank {} {cur} and the output must be rank {} {want}", cur.rank(), want.rank()));
    }
    let r = cur.rank();
    if r > 0 && cur.0[0] != want.0[0] {
        return Some(format!("the batch dim cannot change: {} vs {}", cur.0[0], want.0[0]));
    }
    for i in 1..r.saturating_sub(1) {
        let (c, w) = (&cur.0[i], &want.0[i]);
        if c == w {
            continue;
        }
        if r != 4 {
            return Some(format!("no op changes dim {i} of a rank-{r} tensor ({c} to {w})"));
        }
        match c.div(w).ok().map(|q| (q.as_int(), q)) {
            Some((Some(q), _)) if q > 1 => {}
            Some((Some(_), _)) | Some((None, _)) | None => {
                let grow = matches!((c.as_int(), w.as_int()), (Some(a), Some(b)) if b > a);
                return Some(if grow {
                    format!("no sequence of ops can grow a spatial dim from {c} to {w}")
                } else {
                    format!("spatial dim {i} cannot go from {c} to {w}: ops only divide spatial dims by whole factors")
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(dims: &[&str]) -> Shape {
        Shape(dims.iter().map(|d| Dim::sym(d)).collect())
    }

    #[test]
    fn shape_distance_counts_channel_and_spatial_steps() {
        let cur = sym(&["B", "H", "W", "C"]);
        let two = Dim::int(2);
        let want = Shape(vec![Dim::sym("B"), Dim::sym("H").div(&two).unwrap(), Dim::sym("W").div(&two).unwrap(), Dim::sym("C").mul(&two).unwrap()]);
        assert_eq!(shape_distance(&cur, &want), Some(3));
        assert_eq!(shape_distance(&want, &cur), None);
        assert_eq!(shape_distance(&cur, &cur), Some(0));
    }

    #[test]
    fn infeasible_shapes_are_explained() {
        let cur = Shape(vec![Dim::sym("B"), Dim::int(8), Dim::int(8), Dim::int(3)]);
        let want = Shape(vec![Dim::sym("B"), Dim::int(16), Dim::int(16), Dim::int(3)]);
        let t = Target::shape_only(&cur, &want);
        assert_eq!(t.infeasible(8).as_deref(), Some("no sequence of ops can grow a spatial dim from 8 to 16"));
    }
}
