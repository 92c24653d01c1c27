//! What a run shows: sizes of candidates, the Pareto front (accuracy vs params) as a table, an
//! SVG plot and `.nas` files, the status summary, hypervolume, and CSV/JSON exports.

use super::select::hypervolume;
pub use super::select::{evaluated, pareto, pareto_by};
use super::store::{Record, Status};
use super::{Evolution, early_stop, equiv, guidance};
use nasc_core::report::group_thousands;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// Parameters and MACs (batch 1) of a candidate's model, from the report.
pub fn size(text: &str) -> Result<(i64, i64), crate::Error> {
    super::guidance::profile(text).map(|p| (p.params, p.macs))
}

/// Hypervolume of the run's accuracy-vs-params points, params relative to the seed's, capped at 2×.
pub fn run_hypervolume(records: &[Record]) -> Option<f64> {
    let seed_params = records.first()?.params? as f64;
    let pts: Vec<(f64, f64)> = evaluated(records).iter().map(|r| (r.accuracy.unwrap_or(0.0), r.params.unwrap_or(0) as f64)).collect();
    Some(hypervolume(&pts, seed_params, 2.0))
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |a| format!("{:.2} %", a * 100.0))
}

/// What the front shows of a member: accuracy, test accuracy, params and MACs, formatted.
fn member_fields(r: &Record) -> [String; 4] {
    [pct(r.accuracy), pct(r.test_accuracy), group_thousands(r.params.unwrap_or(0)), group_thousands(r.macs.unwrap_or(0))]
}

/// The front as a text table. With a validation split, `accuracy` is on it (what selection
/// used) and `test` is the test accuracy measured after training.
pub fn front_table(records: &[Record]) -> String {
    let mut s = format!("{:>5}  {:>9}  {:>9}  {:>11}  {:>14}  mutation\n", "id", "accuracy", "test", "params", "MACs");
    for r in pareto(records) {
        let [acc, test, params, macs] = member_fields(r);
        let _ = writeln!(s, "{:>5}  {acc:>9}  {test:>9}  {params:>11}  {macs:>14}  {}", r.id, r.mutation);
    }
    s
}

/// Counts by status, best accuracy, front size, controller overhead.
pub fn status_text(ev: &Evolution) -> String {
    let rs = ev.records();
    let st = &ev.settings;
    let count = |s: Status| rs.iter().filter(|r| r.status == s).count();
    let mut s = String::new();
    let _ = writeln!(s, "seed file   {}", st.file);
    let _ = writeln!(s, "data        {}   strategy {}   seed {}   window {}", st.data, st.strategy.name(), st.seed, st.window);
    let _ = writeln!(s, "accuracy    {}", selection_split(st, rs));
    if let Some(cost) = eval_cost(rs) {
        let _ = writeln!(s, "evaluation  {cost}");
    }
    let _ = writeln!(
        s,
        "candidates  {} of {} created: {} trained, {} stopped early, {} reused, {} failed, {} not trained (mutation failed, too large or predicted dominated), {} pending{}",
        rs.len(),
        st.trials,
        count(Status::Done),
        count(Status::Stopped),
        count(Status::Reused),
        count(Status::Failed),
        count(Status::Skipped),
        count(Status::Pending),
        if ev.complete() { " — complete" } else { " — resume with `nasc evolve --resume`" }
    );
    if st.inherit {
        let children: Vec<&Record> = rs.iter().filter(|r| r.parent.is_some() && r.inherited.is_some()).collect();
        let (got, all): (i64, i64) = children.iter().fold((0, 0), |(g, a), r| (g + r.inherited.unwrap_or(0), a + r.params.unwrap_or(0)));
        let share = if all > 0 { 100.0 * got as f64 / all as f64 } else { 0.0 };
        let _ = writeln!(s, "inherit     {share:.1} % of the trained children's parameters started from their parent's weights ({} children)", children.len());
    }
    if let Some(f) = mutation_failures(rs) {
        s.push_str(&f);
    }
    if let Some(es) = &st.early_stop {
        let sv = early_stop::savings(rs, st.train.recipe.epochs);
        let at: Vec<String> = sv.by_rung.iter().map(|(e, n)| format!("{n} after epoch {e}")).collect();
        let rungs: Vec<String> = es.rungs.iter().map(usize::to_string).collect();
        let _ = writeln!(
            s,
            "early stop  rungs {} (margin {:.3}): {} stopped{}; {} epochs trained, {} saved",
            rungs.join(","),
            es.margin,
            sv.stopped,
            if at.is_empty() { String::new() } else { format!(" ({})", at.join(", ")) },
            sv.epochs_trained,
            sv.epochs_saved
        );
    }
    if st.guidance.mode != guidance::Mode::Off {
        s.push_str(&guidance_text(ev));
    }
    if let Some(best) = evaluated(rs).into_iter().max_by(|a, b| a.accuracy.unwrap_or(0.0).total_cmp(&b.accuracy.unwrap_or(0.0))) {
        let _ = writeln!(s, "best        #{} {} with {} params", best.id, pct(best.accuracy), group_thousands(best.params.unwrap_or(0)));
    }
    if let Some(hv) = run_hypervolume(rs) {
        let _ = writeln!(s, "hypervolume {hv:.4} (accuracy × params relative to the seed, capped at 2×)");
    }
    let (exact, rewritten, canon_ms) = equiv::duplicates(rs);
    let proofs = match equiv::check_all(rs) {
        Ok(n) => format!("{n} stored proofs replayed"),
        Err(e) => format!("a stored proof does not replay: {e}"),
    };
    let _ = writeln!(
        s,
        "duplicates  {exact} with a trained candidate's fingerprint, {rewritten} more equal to one up to rewriting ({proofs}{})",
        if canon_ms > 0.0 { format!("; canonical form computed here in {canon_ms:.2} ms each") } else { String::new() }
    );
    let mut lat: Vec<f64> = rs.iter().filter_map(|r| Some(r.started_at? - r.created_at)).collect();
    if !lat.is_empty() {
        lat.sort_by(f64::total_cmp);
        let _ =
            writeln!(s, "start       median {:.2} s, max {:.2} s from a candidate's creation to its training's start", lat[lat.len() / 2], lat[lat.len() - 1]);
    }
    let mut ms: Vec<f64> = rs.iter().skip(1).filter_map(|r| r.controller_ms).collect();
    if !ms.is_empty() {
        ms.sort_by(f64::total_cmp);
        let _ =
            writeln!(s, "controller  median {:.2} ms, max {:.2} ms per candidate (select + mutate + synthesize + check)", ms[ms.len() / 2], ms[ms.len() - 1]);
    }
    if let Some(ray) = &st.ray {
        s.push_str(&in_flight(ray, rs));
    }
    if let Some(f) = &st.finish {
        s.push_str(&finish_text(ev, f));
    }
    let _ = write!(s, "\nPareto front (accuracy vs params):\n{}", front_table(rs));
    s
}

/// The full-fidelity finish: how far it got, and each retrained architecture's search score
/// beside its full-fidelity validation and test accuracies.
fn finish_text(ev: &Evolution, f: &super::Finish) -> String {
    let members = ev.finished_members();
    let finals = ev.finals();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "finish      {} epochs × {} seeds on every training image outside the validation split: {} of {} trainings done{}",
        f.epochs,
        f.seeds,
        finals.len(),
        members.len() * f.seeds,
        if finals.len() < members.len() * f.seeds { " — complete it with `nasc evolve --finalize STORE`" } else { "" }
    );
    if finals.is_empty() {
        return s;
    }
    let _ = writeln!(s, "{:>17}  {:>9}  {:>10}  {:>10}  {:>11}  {:>14}", "id", "search", "final val", "final test", "params", "MACs");
    let rs = ev.records();
    for id in members {
        let mine: Vec<&super::store::Final> = finals.iter().filter(|x| x.id == id).collect();
        let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let val = mean(mine.iter().filter_map(|x| x.accuracy).collect());
        let test = mean(mine.iter().filter_map(|x| x.test_accuracy).collect());
        let r = &rs[id as usize];
        let label = if id == 0 { format!("{id} (seed)") } else { id.to_string() };
        let _ = writeln!(
            s,
            "{label:>17}  {:>9}  {:>10}  {:>10}  {:>11}  {:>14}",
            pct(r.accuracy),
            pct(val),
            pct(test),
            group_thousands(r.params.unwrap_or(0)),
            group_thousands(r.macs.unwrap_or(0))
        );
    }
    s
}

/// Which split selection uses, how large it is, and the standard error of an accuracy on it.
fn selection_split(st: &super::Settings, rs: &[Record]) -> String {
    let t = &st.train;
    let subset = t.train_subset.map_or("all the other training images".to_string(), |n| format!("subsets of {} of the others", group_thousands(n as i64)));
    match (t.val_size, t.val_fraction) {
        (Some(n), _) => {
            let best = evaluated(rs).iter().filter_map(|r| r.accuracy).fold(f64::NAN, f64::max);
            let p = if best.is_nan() { 0.5 } else { best };
            let se = (p * (1.0 - p) / n as f64).sqrt();
            format!(
                "selection on a fixed validation split of {} training images (standard error ±{:.2} points at {:.1} %; candidates train on {subset}); test accuracy for the final front",
                group_thousands(n as i64),
                se * 100.0,
                p * 100.0
            )
        }
        (None, f) if f > 0.0 => {
            format!("selection on a {:.0} % validation split of each candidate's training images; test accuracy for the final front", f * 100.0)
        }
        _ => "selection on the test split (no validation split)".to_string(),
    }
}

/// The evaluation's share of a candidate's time: median seconds per evaluation against median
/// training seconds per epoch (from the curves; stores from before the timing have none).
fn eval_cost(rs: &[Record]) -> Option<String> {
    let (mut evals, mut epochs) = (Vec::new(), Vec::new());
    for r in rs.iter().filter(|r| r.status.evaluated() && r.reused_from.is_none()) {
        let (Some(eval), Some(total)) = (r.eval_seconds, r.train_seconds) else { continue };
        let curve: Vec<serde_json::Value> = r.curve.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
        let n = curve.len().max(1) as f64;
        evals.push(eval / n);
        epochs.push((total - eval).max(0.0) / n);
    }
    if evals.is_empty() {
        return None;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (e, t) = (median(&mut evals), median(&mut epochs));
    Some(format!("median {e:.2} s per validation pass after each epoch, {t:.2} s per training epoch ({:.0} % of a candidate's time)", 100.0 * e / (e + t)))
}

/// How often mutation failed, by strategy and by reason (the reason's first clause, numbers
/// folded), so wasted candidates are visible.
fn mutation_failures(rs: &[Record]) -> Option<String> {
    let children: Vec<&Record> = rs.iter().filter(|r| r.parent.is_some()).collect();
    let failed: Vec<&Record> = children.iter().copied().filter(|r| r.mutation == "mutation failed").collect();
    if children.is_empty() {
        return None;
    }
    let mut by_strategy: std::collections::BTreeMap<&str, (usize, usize)> = std::collections::BTreeMap::new();
    for r in &children {
        let e = by_strategy.entry(r.strategy.as_str()).or_default();
        e.1 += 1;
        e.0 += usize::from(r.mutation == "mutation failed");
    }
    let mut by_reason: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for r in &failed {
        *by_reason.entry(failure_reason(r.error.as_deref().unwrap_or(""))).or_default() += 1;
    }
    let strategies: Vec<String> = by_strategy.iter().map(|(k, (f, n))| format!("{k} {f} of {n} ({:.0} %)", 100.0 * *f as f64 / (*n).max(1) as f64)).collect();
    let mut s = format!("mutations   failed: {}\n", strategies.join(", "));
    let mut reasons: Vec<(String, usize)> = by_reason.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (reason, n) in reasons {
        let _ = writeln!(s, "            {n:>4} × {reason}");
    }
    Some(s)
}

/// A failure's reason without its particulars: the last attempt's error from its cause on (the
/// mutation's description dropped), two clauses at most, numbers folded to `N` (error codes kept).
fn failure_reason(error: &str) -> String {
    let last = error.rsplit("; ").next().unwrap_or(error);
    let causes = ["synthesis failed", "the child does not check", "unchanged architecture", "internal error"];
    let from = causes.iter().filter_map(|c| last.find(c)).min().unwrap_or(0);
    let head: String = last[from..].splitn(3, ": ").take(2).collect::<Vec<_>>().join(": ");
    let (mut out, mut in_code) = (String::new(), false);
    for c in head.chars().take(100) {
        if c.is_ascii_digit() && !in_code {
            if !out.ends_with('N') {
                out.push('N');
            }
        } else {
            out.push(c);
        }
        // Digits right after an `E` are an error code, kept.
        in_code = c == 'E' || (in_code && c.is_ascii_digit());
    }
    out
}

/// What guidance did: skips, how well its predictions ranked the candidates, and the op
/// effects of the model fitted on everything trained so far.
fn guidance_text(ev: &Evolution) -> String {
    let (rs, st) = (ev.records(), &ev.settings);
    let g = &st.guidance;
    let epoch = guidance::reference_epoch(st.train.recipe.epochs, st.early_stop.as_ref());
    let skipped = rs.iter().filter(|r| guidance::skipped(r)).count();
    let predicted = rs.iter().filter(|r| guidance::prediction(r).is_some()).count();
    let rank = guidance::rank_correlation(rs, epoch)
        .map_or("too few to rank".to_string(), |(rho, n)| format!("Spearman {rho:.2} with the accuracy after epoch {epoch} over {n} trained"));
    let mut s = format!("guidance    {} (z {}): {predicted} candidates predicted ({rank}), {skipped} skipped as predicted dominated\n", g.mode.name(), g.z);
    if let Some(p) = guidance::fit_records(rs, epoch, g, |r| guidance::profile(&r.source).ok()) {
        let effects: Vec<String> = p.effects().iter().take(5).map(|(op, e)| format!("{op} {e:+.2}")).collect();
        let _ = writeln!(
            s,
            "            model now: {} samples, leave-one-out error {:.2} (logit); logit change per extra op: {}",
            p.samples,
            p.sigma,
            effects.join(", ")
        );
    }
    s
}

/// The pending candidates' Ray jobs: the latest attempt of each, its state and node.
fn in_flight(ray: &super::ray::RaySettings, rs: &[Record]) -> String {
    let client = super::ray::Client::new(&ray.address);
    let mut s = format!("ray         {} (run id {}, {} CPU and {} GPU per training, {} retries)\n", ray.address, ray.run_id, ray.cpus, ray.gpus, ray.retries);
    for r in rs.iter().filter(|r| r.status == Status::Pending) {
        let mut latest = None;
        for attempt in 0..=ray.retries {
            let sid = ray.submission_id(r.id, attempt);
            match client.status(&sid) {
                Ok(Some(info)) => latest = Some((sid, info)),
                Ok(None) => break,
                Err(e) => return s + &format!("  in flight: {e}\n"),
            }
        }
        let line = match latest {
            Some((sid, info)) => {
                format!("{} {}", sid, info.status.to_lowercase())
                    + &info.node.map_or(String::new(), |n| format!(" on node {}", n.chars().take(12).collect::<String>()))
            }
            None => "not submitted".to_string(),
        };
        let _ = writeln!(s, "  #{:<4} {line}", r.id);
    }
    s
}

/// Every candidate as CSV (the source and properties left out; see `--export json`).
pub fn csv(records: &[Record]) -> String {
    let mut s = String::from(
        "id,parent,strategy,status,accuracy,test_accuracy,params,macs,throughput,train_seconds,controller_ms,fingerprint,reused_from,mutation,error,stopped_at,latency_ms\n",
    );
    let q = |x: &str| format!("\"{}\"", x.replace('"', "\"\""));
    let o = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    let oi = |x: Option<i64>| x.map_or(String::new(), |v| v.to_string());
    for r in records {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.id,
            oi(r.parent),
            r.strategy,
            r.status.as_str(),
            o(r.accuracy),
            o(r.test_accuracy),
            oi(r.params),
            oi(r.macs),
            o(r.throughput),
            o(r.train_seconds),
            o(r.controller_ms),
            r.fingerprint,
            oi(r.reused_from),
            q(&r.mutation),
            q(r.error.as_deref().unwrap_or("")),
            oi(r.stopped_at),
            o(r.latency_ms)
        );
    }
    s
}

pub fn json(ev: &Evolution) -> serde_json::Value {
    serde_json::json!({ "settings": ev.settings, "candidates": ev.records(), "finals": ev.finals() })
}

/// Write `pareto.svg` and one `.nas` file per front candidate into `dir`.
pub fn write_outputs(records: &[Record], dir: &Path) -> Result<Vec<std::path::PathBuf>, crate::Error> {
    std::fs::create_dir_all(dir).map_err(|e| crate::Error::write(dir, e))?;
    let mut written = Vec::new();
    for r in pareto(records) {
        let p = dir.join(format!("candidate_{:04}.nas", r.id));
        let [acc, test, params, macs] = member_fields(r);
        let header = format!("// nasc evolve candidate #{}: accuracy {acc} (test {test}), {params} params, {macs} MACs\n// {}\n", r.id, r.mutation);
        crate::files::write_atomic(&p, (header + &r.source).as_bytes()).map_err(|e| crate::Error::write(&p, e))?;
        written.push(p);
    }
    let svg = dir.join("pareto.svg");
    plot(records, &svg).map_err(|e| crate::Error::write(&svg, std::io::Error::other(e.to_string())))?;
    written.push(svg);
    Ok(written)
}

fn plot(records: &[Record], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let ev = evaluated(records);
    let pts: Vec<(f64, f64)> = ev.iter().map(|r| (r.params.unwrap_or(0) as f64 / 1e3, r.accuracy.unwrap_or(0.0) * 100.0)).collect();
    let front_pts: Vec<(f64, f64)> = pareto(records).iter().map(|r| (r.params.unwrap_or(0) as f64 / 1e3, r.accuracy.unwrap_or(0.0) * 100.0)).collect();
    let (xmax, ymin) = pts.iter().fold((1.0f64, 100.0f64), |(x, y), p| (x.max(p.0), y.min(p.1)));
    let root = SVGBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("nasc evolve: accuracy vs parameters", ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..xmax * 1.08, (ymin - 2.0).max(0.0)..100.0)?;
    chart.configure_mesh().x_desc("parameters (thousands)").y_desc("accuracy (%, validation split when the run has one)").draw()?;
    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, RGBColor(150, 150, 150).filled())))?.label("candidate");
    chart.draw_series(LineSeries::new(front_pts.iter().copied(), RED.stroke_width(2)))?;
    chart.draw_series(front_pts.iter().map(|&p| Circle::new(p, 5, RED.filled())))?.label("Pareto front").legend(|(x, y)| Circle::new((x, y), 5, RED.filled()));
    if let Some(seed) = records.first().filter(|r| r.status == Status::Done) {
        let p = (seed.params.unwrap_or(0) as f64 / 1e3, seed.accuracy.unwrap_or(0.0) * 100.0);
        chart
            .draw_series(std::iter::once(TriangleMarker::new(p, 7, BLUE.filled())))?
            .label("seed")
            .legend(|(x, y)| TriangleMarker::new((x, y), 5, BLUE.filled()));
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.9)).position(SeriesLabelPosition::LowerRight).draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn failure_reasons_drop_the_particulars() {
        let e = "BasicBlockDown: depth 1→1, dropped C→H/stride: synthesis failed: spatial dim 1 cannot go from H to H/stride: ops only divide spatial dims by whole factors";
        assert_eq!(super::failure_reason(e), "synthesis failed: spatial dim N cannot go from H to H/stride");
        let e = "no block call to delete; duplicated ConvLayer * 2: the child does not check: 7 is not divisible by 2 [E0302]";
        assert_eq!(super::failure_reason(e), "the child does not check: N is not divisible by N [E0302]");
        assert_eq!(super::failure_reason("no block call to delete"), "no block call to delete");
    }
}
