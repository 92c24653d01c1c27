//! Parent selection by Pareto weight (paper Algorithm 2, appendix B.3), the Pareto front and
//! the hypervolume used to compare strategies.

use super::store::{Record, Status};
use nasc_core::rng::Rng;
use serde::{Deserialize, Serialize};

/// A secondary objective, minimised (params, MACs, latency) or maximised (throughput).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    Params,
    Macs,
    /// Measured training images/s. Timing-dependent: a run selecting on it is not reproducible.
    Throughput,
    /// Measured batch-1 latency of the trained model compiled to native code (cranelift).
    /// Timing-dependent like throughput.
    Latency,
}

/// A trained candidate as selection sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Individual {
    pub id: i64,
    pub accuracy: f64,
    pub params: f64,
    pub macs: f64,
    pub throughput: f64,
    /// Batch-1 latency in ms (infinite when not measured).
    pub latency: f64,
}

impl Individual {
    /// The objective oriented so that larger is better.
    fn secondary(&self, o: Objective) -> f64 {
        match o {
            Objective::Params => -self.params,
            Objective::Macs => -self.macs,
            Objective::Throughput => self.throughput,
            Objective::Latency => -self.latency,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectionConfig {
    pub objectives: Vec<Objective>,
    /// Candidates below this test accuracy (0–1) are never parents (paper code: 0.8 on CIFAR).
    pub min_accuracy: f64,
    /// Probability of selecting on accuracy alone (paper code: 0.2).
    pub p_accuracy_only: f64,
    /// Keep the best fraction of the population by weight (paper code: 10 %) ...
    pub top_fraction: f64,
    /// ... but at least this many (paper code: 10).
    pub min_to_select: usize,
}

impl Default for SelectionConfig {
    fn default() -> SelectionConfig {
        SelectionConfig { objectives: vec![Objective::Params, Objective::Macs], min_accuracy: 0.0, p_accuracy_only: 0.2, top_fraction: 0.1, min_to_select: 10 }
    }
}

impl SelectionConfig {
    /// Every value in its meaningful range (they can come from `--set`); the message names the key.
    pub fn validate(&self) -> Result<(), crate::Error> {
        use super::mutate::in_range;
        in_range("min_accuracy", self.min_accuracy, 0.0, 1.0)?;
        in_range("p_accuracy_only", self.p_accuracy_only, 0.0, 1.0)?;
        if !(self.top_fraction > 0.0 && self.top_fraction <= 1.0) {
            return Err(crate::Error::Setting(format!("`top_fraction` must be above 0 and at most 1, found {}", self.top_fraction)));
        }
        in_range("min_to_select", self.min_to_select as f64, 1.0, 1e9)
    }
}

/// Pick a parent id; `None` when no individual passes the accuracy filter.
pub fn select_parent(pop: &[Individual], cfg: &SelectionConfig, rng: &mut Rng) -> Option<i64> {
    let pop: Vec<&Individual> = pop.iter().filter(|i| i.accuracy >= cfg.min_accuracy && i.accuracy.is_finite()).collect();
    if pop.is_empty() {
        return None;
    }
    let weights: Vec<f64> = if cfg.objectives.is_empty() || rng.unit() < cfg.p_accuracy_only {
        let best = pop.iter().map(|i| i.accuracy).fold(0.0, f64::max);
        pop.iter().map(|i| best / i.accuracy.max(1e-9) - 1.0).collect()
    } else {
        let o = cfg.objectives[rng.below(cfg.objectives.len())];
        let pts: Vec<(f64, f64)> = pop.iter().map(|i| (i.secondary(o), i.accuracy)).collect();
        pareto_weights(&pts)
    };
    let mut order: Vec<usize> = (0..pop.len()).collect();
    order.sort_by(|&a, &b| weights[a].total_cmp(&weights[b]).then(pop[a].id.cmp(&pop[b].id)));
    let keep = ((cfg.top_fraction * pop.len() as f64).ceil() as usize).max(cfg.min_to_select).clamp(1, pop.len());
    order.truncate(keep);
    let (lo, hi) = (weights[order[0]], weights[order[keep - 1]]);
    // Rescale to [0, 1] and sample ∝ 10^-w: the best kept is 10× as likely as the worst.
    let p: Vec<f64> = order.iter().map(|&i| if hi > lo { 10f64.powf(-(weights[i] - lo) / (hi - lo)) } else { 1.0 }).collect();
    let total: f64 = p.iter().sum();
    let mut u = rng.unit() * total;
    for (k, &i) in order.iter().enumerate() {
        u -= p[k];
        if u < 0.0 {
            return Some(pop[i].id);
        }
    }
    Some(pop[order[keep - 1]].id)
}

/// Indices of the non-dominated points (both coordinates larger is better), sorted by x.
pub fn front(pts: &[(f64, f64)]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..pts.len()).collect();
    idx.sort_by(|&a, &b| pts[b].0.total_cmp(&pts[a].0).then(pts[b].1.total_cmp(&pts[a].1)).then(a.cmp(&b)));
    let mut out = Vec::new();
    let mut best_y = f64::NEG_INFINITY;
    for i in idx {
        if pts[i].1 > best_y {
            best_y = pts[i].1;
            out.push(i);
        }
    }
    out.reverse();
    out
}

/// Each point's distance to the Pareto curve (linear between front points, extended
/// horizontally left of the most accurate point and vertically below the cheapest), after
/// scaling each axis by the curve's extent between its end points (the curve's average slope).
pub fn pareto_weights(pts: &[(f64, f64)]) -> Vec<f64> {
    let f = front(pts);
    let curve: Vec<(f64, f64)> = f.iter().map(|&i| pts[i]).collect();
    let span = |k: usize| {
        let v = |p: &(f64, f64)| if k == 0 { p.0 } else { p.1 };
        let (a, b) = (v(&curve[0]), v(&curve[curve.len() - 1]));
        let all = pts.iter().map(v).fold(f64::NEG_INFINITY, f64::max) - pts.iter().map(v).fold(f64::INFINITY, f64::min);
        if (a - b).abs() > 1e-12 {
            (a - b).abs()
        } else if all > 1e-12 {
            all
        } else {
            1.0
        }
    };
    let (sx, sy) = (span(0), span(1));
    let c: Vec<(f64, f64)> = curve.iter().map(|p| (p.0 / sx, p.1 / sy)).collect();
    pts.iter().map(|p| distance_to_curve((p.0 / sx, p.1 / sy), &c)).collect()
}

fn distance_to_curve(p: (f64, f64), c: &[(f64, f64)]) -> f64 {
    // c is sorted by x ascending, so y descends: c[0] is the most accurate point.
    let first = c[0];
    let last = c[c.len() - 1];
    let mut d = f64::INFINITY;
    if p.0 <= first.0 {
        d = d.min((first.1 - p.1).max(0.0));
    }
    if p.1 <= last.1 {
        d = d.min((last.0 - p.0).max(0.0));
    }
    for w in c.windows(2) {
        d = d.min(segment_distance(p, w[0], w[1]));
    }
    if c.len() == 1 {
        d = d.min(((first.0 - p.0).powi(2) + (first.1 - p.1).powi(2)).sqrt());
    }
    d
}

fn segment_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
}

/// Area dominated by (accuracy, params) points, with params measured relative to `scale` (the
/// seed's count) and capped at `cap` × scale: the area of the union of the boxes
/// [params/scale, cap] × [0, accuracy]. Larger is better; at most `cap`.
pub fn hypervolume(points: &[(f64, f64)], scale: f64, cap: f64) -> f64 {
    let mut pts: Vec<(f64, f64)> = points.iter().map(|&(acc, p)| (p / scale, acc)).filter(|(x, _)| *x < cap).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut area = 0.0;
    let mut best = 0.0f64;
    for (k, &(x, acc)) in pts.iter().enumerate() {
        best = best.max(acc);
        let next = pts.get(k + 1).map_or(cap, |p| p.0);
        area += (next - x) * best;
    }
    area
}

/// Evaluated candidates, each architecture once (reuses dropped).
pub fn evaluated(records: &[super::store::Record]) -> Vec<&Record> {
    records.iter().filter(|r| r.status == Status::Done && r.accuracy.is_some() && r.params.is_some()).collect()
}

/// The accuracy-vs-params Pareto front, cheapest first.
pub fn pareto(records: &[super::store::Record]) -> Vec<&Record> {
    pareto_by(records, |r| r.params.unwrap_or(0))
}

/// The Pareto front of accuracy against `cost`, cheapest first.
pub fn pareto_by(records: &[super::store::Record], cost: impl Fn(&Record) -> i64) -> Vec<&Record> {
    let ev = evaluated(records);
    let pts: Vec<(f64, f64)> = ev.iter().map(|r| (-(cost(r) as f64), r.accuracy.unwrap_or(0.0))).collect();
    let mut f: Vec<&Record> = front(&pts).into_iter().map(|i| ev[i]).collect();
    f.sort_by_key(|r| cost(r));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(id: i64, accuracy: f64, params: f64) -> Individual {
        Individual { id, accuracy, params, macs: params * 10.0, throughput: 1.0, latency: 1.0 }
    }

    #[test]
    fn front_keeps_non_dominated() {
        let pts = [(-10.0, 0.9), (-5.0, 0.8), (-7.0, 0.7), (-1.0, 0.5), (-1.0, 0.4)];
        assert_eq!(front(&pts), vec![0, 1, 3]);
    }

    #[test]
    fn weights_are_zero_on_the_front_and_grow_behind_it() {
        let pts = [(-10.0, 0.9), (-5.0, 0.8), (-1.0, 0.5), (-7.0, 0.7), (-9.0, 0.2)];
        let w = pareto_weights(&pts);
        assert!(w[0].abs() < 1e-12 && w[1].abs() < 1e-12 && w[2].abs() < 1e-12, "{w:?}");
        assert!(w[3] > 0.0 && w[4] > w[3], "{w:?}");
    }

    #[test]
    fn selection_prefers_the_front_and_is_seeded() {
        let pop: Vec<Individual> = (0..40).map(|i| ind(i, 0.5 + (i % 7) as f64 * 0.05, 1000.0 + (i * 37 % 11) as f64 * 100.0)).collect();
        let cfg = SelectionConfig { min_to_select: 5, ..SelectionConfig::default() };
        let picks: Vec<i64> = (0..200).map(|s| select_parent(&pop, &cfg, &mut Rng::new(s)).unwrap()).collect();
        let again: Vec<i64> = (0..200).map(|s| select_parent(&pop, &cfg, &mut Rng::new(s)).unwrap()).collect();
        assert_eq!(picks, again);
        let pts: Vec<(f64, f64)> = pop.iter().map(|i| (-i.params, i.accuracy)).collect();
        let on_front: Vec<i64> = front(&pts).into_iter().map(|k| pop[k].id).collect();
        let count = |id: i64| picks.iter().filter(|&&p| p == id).count();
        let most = (0..40).max_by_key(|&id| (count(id), -id)).unwrap();
        assert!(on_front.contains(&most), "most picked #{most} ({} times) is not on the front {on_front:?}", count(most));
    }

    #[test]
    fn accuracy_filter_removes_everyone_below() {
        let pop = [ind(0, 0.3, 10.0), ind(1, 0.9, 10.0)];
        let cfg = SelectionConfig { min_accuracy: 0.5, ..SelectionConfig::default() };
        assert!((0..50).all(|s| select_parent(&pop, &cfg, &mut Rng::new(s)) == Some(1)));
        let cfg = SelectionConfig { min_accuracy: 0.95, ..SelectionConfig::default() };
        assert_eq!(select_parent(&pop, &cfg, &mut Rng::new(0)), None);
    }

    #[test]
    fn hypervolume_of_boxes() {
        // One point at half the seed's size with 0.8 accuracy: (2 - 0.5) * 0.8.
        assert!((hypervolume(&[(0.8, 50.0)], 100.0, 2.0) - 1.2).abs() < 1e-12);
        // A dominated point adds nothing; a cheaper less accurate one adds its strip.
        let hv = hypervolume(&[(0.8, 50.0), (0.7, 60.0), (0.5, 25.0)], 100.0, 2.0);
        assert!((hv - (0.25 * 0.5 + 1.5 * 0.8)).abs() < 1e-12, "{hv}");
        assert_eq!(hypervolume(&[(0.9, 300.0)], 100.0, 2.0), 0.0);
    }
}
