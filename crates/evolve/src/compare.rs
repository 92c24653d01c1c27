//! `nasc compare`: strategies side by side over several runs (stores). Per group of runs with
//! the same strategy and early-stopping settings: hypervolume mean ± std, the best front
//! member's test accuracy, trainings and epochs spent; per pair of groups a two-sided
//! Mann–Whitney U test on the hypervolumes; and an SVG with every group's fronts.
//! `--trainings N` compares every run after its first N trainings, the fair budget when
//! guidance skips candidates or duplicates are reused.

use super::report::{pareto, run_hypervolume};
use super::store::Record;
use super::{Error, Evolution, early_stop, guidance};
use plotters::prelude::*;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// One run as the comparison sees it.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub store: String,
    pub group: String,
    pub seed: u64,
    pub candidates: usize,
    pub complete: bool,
    pub hypervolume: f64,
    /// The most accurate front member's (validation) accuracy and test accuracy.
    pub best_accuracy: f64,
    pub best_test_accuracy: Option<f64>,
    /// Trainings started (trained and stopped early) and epochs they ran.
    pub trainings: usize,
    pub epochs: usize,
    /// Candidates guidance skipped as predicted dominated.
    pub skipped: usize,
    /// Spearman's rank correlation of guidance's predictions with the accuracies then measured.
    pub rank_correlation: Option<f64>,
    /// Cut at `--trainings` but the run has fewer.
    pub short: bool,
    /// (params, accuracy) of the front, cheapest first.
    pub front: Vec<(i64, f64)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Group {
    pub name: String,
    pub runs: usize,
    pub hypervolume: (f64, f64),
    pub best_test_accuracy: Option<(f64, f64)>,
    pub trainings: f64,
    pub epochs: f64,
    pub skipped: f64,
    /// Mean over the runs that have one.
    pub rank_correlation: Option<f64>,
}

/// A two-sided Mann–Whitney U test of two groups' hypervolumes.
#[derive(Clone, Debug, Serialize)]
pub struct PairTest {
    pub a: String,
    pub b: String,
    /// U of `a`: how many (a, b) pairs have a's hypervolume above b's (ties count ½).
    pub u: f64,
    pub p: f64,
    /// `exact` (no ties) or `normal` (tie-corrected normal approximation).
    pub method: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub seed_file: String,
    pub data: String,
    /// Every run cut after this many trainings (`--trainings`).
    pub trainings: Option<usize>,
    pub runs: Vec<Run>,
    pub groups: Vec<Group>,
    pub tests: Vec<PairTest>,
}

/// The group a run belongs to: its strategy, its guidance, and its rungs when it stops early.
fn group_name(ev: &Evolution) -> String {
    let s = &ev.settings;
    let mut name = s.strategy.name().to_string();
    if s.guidance.mode != guidance::Mode::Off {
        name += &format!(" guided:{}", s.guidance.mode.name());
    }
    if let Some(es) = &s.early_stop {
        let rungs: Vec<String> = es.rungs.iter().map(usize::to_string).collect();
        name += &format!(" (rungs {})", rungs.join(","));
    }
    name
}

/// A training was started for it (trained, stopped early, or failed while training).
fn is_training(r: &Record) -> bool {
    r.train_seconds.is_some() && r.reused_from.is_none()
}

/// The candidates up to and including the `n`-th training, and whether the run has that many.
fn first_trainings(rs: &[Record], n: usize) -> (&[Record], bool) {
    let mut seen = 0;
    for (i, r) in rs.iter().enumerate() {
        seen += usize::from(is_training(r));
        if seen == n {
            return (&rs[..=i], true);
        }
    }
    (rs, false)
}

fn summarise(store: &Path, ev: &Evolution, trainings: Option<usize>) -> Result<Run, Error> {
    let (rs, enough) = match trainings {
        Some(n) => first_trainings(ev.records(), n),
        None => (ev.records(), true),
    };
    let epoch = guidance::reference_epoch(ev.settings.train.recipe.epochs, ev.settings.early_stop.as_ref());
    let hypervolume = run_hypervolume(rs).ok_or_else(|| Error::Evidence(format!("`{}` has no trained seed to measure against", store.display())))?;
    // The front's most accurate member: only front members have a test accuracy.
    let best = pareto(rs).into_iter().max_by(|a, b| a.accuracy.unwrap_or(0.0).total_cmp(&b.accuracy.unwrap_or(0.0)).then(b.id.cmp(&a.id)));
    let savings = early_stop::savings(rs, ev.settings.train.recipe.epochs);
    Ok(Run {
        store: store.display().to_string(),
        group: group_name(ev),
        seed: ev.settings.seed,
        candidates: rs.len(),
        complete: ev.complete(),
        hypervolume,
        best_accuracy: best.and_then(|r| r.accuracy).unwrap_or(0.0),
        best_test_accuracy: best.and_then(|r| r.test_accuracy),
        trainings: rs.iter().filter(|r| is_training(r)).count(),
        epochs: savings.epochs_trained,
        skipped: rs.iter().filter(|r| guidance::skipped(r)).count(),
        rank_correlation: guidance::rank_correlation(rs, epoch).map(|(rho, _)| rho),
        short: !enough,
        front: pareto(rs).iter().map(|r| (r.params.unwrap_or(0), r.accuracy.unwrap_or(0.0))).collect(),
    })
}

/// Compare the runs in `stores`, each cut after its first `trainings` trainings when given;
/// they must share the seed architecture and data.
pub fn compare(stores: &[&Path], trainings: Option<usize>) -> Result<Comparison, Error> {
    let mut runs = Vec::new();
    let mut first: Option<(String, String, String)> = None;
    for &store in stores {
        let ev = Evolution::inspect(store)?;
        let s = &ev.settings;
        let key = (s.seed_source.clone(), s.data.clone(), s.file.clone());
        match &first {
            None => first = Some(key),
            Some(f) if f.0 != key.0 || f.1 != key.1 => {
                return Err(Error::Evidence(format!(
                    "`{}` searched from another seed architecture or data ({} on {}) than the first store ({} on {})",
                    store.display(),
                    key.2,
                    key.1,
                    f.2,
                    f.1
                )));
            }
            Some(_) => {}
        }
        runs.push(summarise(store, &ev, trainings)?);
    }
    let (_, data, seed_file) = first.ok_or_else(|| Error::Setting("give at least one store".into()))?;
    let mut names: Vec<String> = runs.iter().map(|r| r.group.clone()).collect();
    names.dedup();
    names.sort();
    names.dedup();
    let groups: Vec<Group> = names.iter().map(|n| group(n, &runs)).collect();
    let mut tests = Vec::new();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            let hv = |g: &String| -> Vec<f64> { runs.iter().filter(|r| &r.group == g).map(|r| r.hypervolume).collect() };
            let (u, p, method) = mann_whitney(&hv(a), &hv(b));
            tests.push(PairTest { a: a.clone(), b: b.clone(), u, p, method });
        }
    }
    Ok(Comparison { seed_file, data, trainings, runs, groups, tests })
}

fn group(name: &str, runs: &[Run]) -> Group {
    let rs: Vec<&Run> = runs.iter().filter(|r| r.group == name).collect();
    let tests: Vec<f64> = rs.iter().filter_map(|r| r.best_test_accuracy).collect();
    Group {
        name: name.to_string(),
        runs: rs.len(),
        hypervolume: mean_std(&rs.iter().map(|r| r.hypervolume).collect::<Vec<_>>()),
        best_test_accuracy: (!tests.is_empty()).then(|| mean_std(&tests)),
        trainings: rs.iter().map(|r| r.trainings as f64).sum::<f64>() / rs.len().max(1) as f64,
        epochs: rs.iter().map(|r| r.epochs as f64).sum::<f64>() / rs.len().max(1) as f64,
        skipped: rs.iter().map(|r| r.skipped as f64).sum::<f64>() / rs.len().max(1) as f64,
        rank_correlation: {
            let rhos: Vec<f64> = rs.iter().filter_map(|r| r.rank_correlation).collect();
            (!rhos.is_empty()).then(|| rhos.iter().sum::<f64>() / rhos.len() as f64)
        },
    }
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, v.sqrt())
}

/// Two-sided Mann–Whitney U test: (U of `a`, p-value, method). Exact when there are no ties
/// and both samples are small; otherwise the normal approximation with tie and continuity
/// corrections.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> (f64, f64, &'static str) {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return (0.0, 1.0, "exact");
    }
    let u: f64 = a
        .iter()
        .map(|x| {
            b.iter()
                .map(|y| {
                    if x > y {
                        1.0
                    } else if x == y {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        })
        .sum();
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    let ties: Vec<usize> = all.chunk_by(|x, y| x == y).map(<[f64]>::len).filter(|&t| t > 1).collect();
    if ties.is_empty() && n1 + n2 <= 60 {
        return (u, exact_p(n1, n2, u as usize), "exact");
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let n = n1f + n2f;
    let tie_term: f64 = ties.iter().map(|&t| (t * t * t - t) as f64).sum::<f64>() / (n * (n - 1.0));
    let sigma = (n1f * n2f / 12.0 * ((n + 1.0) - tie_term)).sqrt();
    if sigma == 0.0 {
        return (u, 1.0, "normal");
    }
    let z = ((u - n1f * n2f / 2.0).abs() - 0.5).max(0.0) / sigma;
    (u, (2.0 * normal_upper_tail(z)).min(1.0), "normal")
}

/// Two-sided exact p-value of U = `u` for samples of sizes `n1`, `n2` (no ties).
fn exact_p(n1: usize, n2: usize, u: usize) -> f64 {
    // counts[m][n][k]: orderings of m a's and n b's with U = k; built up one element at a time.
    let max = n1 * n2;
    let mut counts = vec![vec![vec![0f64; max + 1]; n2 + 1]; n1 + 1];
    // With only a's or only b's there is one ordering, with U = 0.
    for row in counts.iter_mut() {
        row[0][0] = 1.0;
    }
    for cell in counts[0].iter_mut() {
        cell[0] = 1.0;
    }
    for m in 1..=n1 {
        for n in 1..=n2 {
            for k in 0..=m * n {
                // The largest element is an a (it beats all n b's) or a b.
                let with_a = if k >= n { counts[m - 1][n][k - n] } else { 0.0 };
                counts[m][n][k] = with_a + counts[m][n - 1][k];
            }
        }
    }
    let dist = &counts[n1][n2];
    let total: f64 = dist.iter().sum();
    let lower: f64 = dist[..=u.min(max)].iter().sum::<f64>() / total;
    let upper: f64 = dist[u.min(max)..].iter().sum::<f64>() / total;
    (2.0 * lower.min(upper)).min(1.0)
}

/// P(Z > z) for a standard normal Z (Abramowitz–Stegun 7.1.26 erfc, error < 1.5e-7).
fn normal_upper_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if x >= 0.0 { erfc / 2.0 } else { 1.0 - erfc / 2.0 }
}

/// The comparison as text: per-run lines, the group table and the pairwise tests.
pub fn text(c: &Comparison) -> String {
    let mut s = format!("seed {} on {}: {} runs", c.seed_file, c.data, c.runs.len());
    if let Some(n) = c.trainings {
        let _ = write!(s, ", each after its first {n} trainings");
    }
    s.push_str("\n\n");
    let rho = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.2}"));
    let _ = writeln!(
        s,
        "{:<32} {:>4} {:>6} {:>10} {:>9} {:>9} {:>10} {:>7} {:>7} {:>5}",
        "group", "seed", "cands", "hypervol.", "best acc", "its test", "trainings", "epochs", "skipped", "rho"
    );
    for r in &c.runs {
        let test = r.best_test_accuracy.map_or("-".into(), |t| format!("{:.2} %", t * 100.0));
        let _ = writeln!(
            s,
            "{:<32} {:>4} {:>6} {:>10.4} {:>7.2} % {:>9} {:>10} {:>7} {:>7} {:>5}{}{}",
            r.group,
            r.seed,
            r.candidates,
            r.hypervolume,
            r.best_accuracy * 100.0,
            test,
            r.trainings,
            r.epochs,
            r.skipped,
            rho(r.rank_correlation),
            if r.complete { "" } else { "  (incomplete)" },
            if r.short { "  (fewer trainings)" } else { "" }
        );
    }
    let _ = writeln!(
        s,
        "\n{:<32} {:>4} {:>18} {:>22} {:>10} {:>8} {:>8} {:>5}",
        "group", "runs", "hypervolume", "best member's test", "trainings", "epochs", "skipped", "rho"
    );
    for g in &c.groups {
        let test = g.best_test_accuracy.map_or("-".into(), |(m, sd)| format!("{:.2} ± {:.2} %", m * 100.0, sd * 100.0));
        let _ = writeln!(
            s,
            "{:<32} {:>4} {:>18} {:>22} {:>10.1} {:>8.1} {:>8.1} {:>5}",
            g.name,
            g.runs,
            format!("{:.4} ± {:.4}", g.hypervolume.0, g.hypervolume.1),
            test,
            g.trainings,
            g.epochs,
            g.skipped,
            rho(g.rank_correlation)
        );
    }
    if !c.tests.is_empty() {
        let _ = writeln!(s, "\nMann–Whitney U on hypervolume (two-sided):");
        for t in &c.tests {
            let _ = writeln!(s, "  {} vs {}: U = {}, p = {:.4} ({})", t.a, t.b, t.u, t.p, t.method);
        }
    }
    s
}

const COLOURS: [RGBColor; 8] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Every run's front, coloured by group (one legend entry per group).
pub fn svg(c: &Comparison, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let pts = c.runs.iter().flat_map(|r| r.front.iter());
    let (xmax, ymin) = pts.fold((1.0f64, 100.0f64), |(x, y), &(p, a)| (x.max(p as f64 / 1e3), y.min(a * 100.0)));
    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("nasc compare: Pareto fronts on {}", c.data), ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..xmax * 1.08, (ymin - 2.0).max(0.0)..100.0)?;
    chart.configure_mesh().x_desc("parameters (thousands)").y_desc("accuracy (%)").draw()?;
    for (k, g) in c.groups.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        for (n, r) in c.runs.iter().filter(|r| r.group == g.name).enumerate() {
            let line: Vec<(f64, f64)> = r.front.iter().map(|&(p, a)| (p as f64 / 1e3, a * 100.0)).collect();
            let series = chart.draw_series(LineSeries::new(line.iter().copied(), colour.stroke_width(1)))?;
            if n == 0 {
                series.label(g.name.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
            }
            chart.draw_series(line.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.9)).position(SeriesLabelPosition::LowerRight).draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_mann_whitney_matches_the_tables() {
        // Complete separation of 5 vs 5: p = 2/252.
        let (u, p, m) = mann_whitney(&[6.0, 7.0, 8.0, 9.0, 10.0], &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((u, m), (25.0, "exact"));
        assert!((p - 2.0 / 252.0).abs() < 1e-12, "{p}");
        // U = 2 for 3 vs 4: P(U <= 2) = 4/35 (orderings with U 0, 1, 2: 1 + 1 + 2).
        let (u, p, _) = mann_whitney(&[1.0, 2.0, 5.0], &[3.0, 4.0, 6.0, 7.0]);
        assert_eq!(u, 2.0);
        assert!((p - 8.0 / 35.0).abs() < 1e-12, "{p}");
        // Identical distributions in the middle: p = 1.
        assert_eq!(mann_whitney(&[1.0, 4.0], &[2.0, 3.0]).1, 1.0);
    }

    #[test]
    fn ties_use_the_normal_approximation() {
        let (u, p, m) = mann_whitney(&[1.0, 1.0, 2.0, 3.0], &[1.0, 2.0, 2.0, 5.0]);
        assert_eq!((u, m), (6.0, "normal"));
        assert!(p > 0.5 && p <= 1.0, "{p}");
        // All equal: no evidence either way.
        assert_eq!(mann_whitney(&[1.0, 1.0], &[1.0, 1.0]).1, 1.0);
    }

    #[test]
    fn normal_tail_is_accurate() {
        assert!((normal_upper_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_upper_tail(1.959_964) - 0.025).abs() < 1e-6);
        assert!((normal_upper_tail(-1.0) - 0.841_344_7).abs() < 1e-6);
    }

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m - 2.5).abs() < 1e-12 && (s - 1.290_994_4).abs() < 1e-6);
        assert_eq!(mean_std(&[3.0]), (3.0, 0.0));
    }
}
