//! What a run shows: sizes of candidates, the Pareto front (accuracy vs params) as a table, an
//! SVG plot and `.nas` files, the status summary, hypervolume, and CSV/JSON exports.

use super::select::{front, hypervolume};
use super::store::{Record, Status};
use super::{Evolution, early_stop, equiv, guidance};
use nasc_core::report::group_thousands;
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// Parameters and MACs (batch 1) of a candidate's model, from the report.
pub fn size(text: &str) -> Result<(i64, i64), String> {
    super::guidance::profile(text).map(|p| (p.params, p.macs))
}

/// Evaluated candidates, each architecture once (reuses dropped).
pub fn evaluated(records: &[Record]) -> Vec<&Record> {
    records.iter().filter(|r| r.status == Status::Done && r.accuracy.is_some() && r.params.is_some()).collect()
}

/// The accuracy-vs-params Pareto front, cheapest first.
pub fn pareto(records: &[Record]) -> Vec<&Record> {
    let ev = evaluated(records);
    let pts: Vec<(f64, f64)> = ev.iter().map(|r| (-(r.params.unwrap_or(0) as f64), r.accuracy.unwrap_or(0.0))).collect();
    let mut f: Vec<&Record> = front(&pts).into_iter().map(|i| ev[i]).collect();
    f.sort_by_key(|r| r.params);
    f
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
    let on = if st.train.val_fraction > 0.0 {
        format!("selection on a {:.0} % validation split of the training images; test accuracy for the final front", st.train.val_fraction * 100.0)
    } else {
        "selection on the test split (no validation split)".to_string()
    };
    let _ = writeln!(s, "accuracy    {on}");
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
    if let Some(es) = &st.early_stop {
        let sv = early_stop::savings(rs, st.train.epochs);
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
    let _ = write!(s, "\nPareto front (accuracy vs params):\n{}", front_table(rs));
    s
}

/// What guidance did: skips, how well its predictions ranked the candidates, and the op
/// effects of the model fitted on everything trained so far.
fn guidance_text(ev: &Evolution) -> String {
    let (rs, st) = (ev.records(), &ev.settings);
    let g = &st.guidance;
    let epoch = guidance::reference_epoch(st.train.epochs, st.early_stop.as_ref());
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
    serde_json::json!({ "settings": ev.settings, "candidates": ev.records() })
}

/// Write `pareto.svg` and one `.nas` file per front candidate into `dir`.
pub fn write_outputs(records: &[Record], dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let mut written = Vec::new();
    for r in pareto(records) {
        let p = dir.join(format!("candidate_{:04}.nas", r.id));
        let [acc, test, params, macs] = member_fields(r);
        let header = format!("// nasc evolve candidate #{}: accuracy {acc} (test {test}), {params} params, {macs} MACs\n// {}\n", r.id, r.mutation);
        crate::files::write_atomic(&p, (header + &r.source).as_bytes()).map_err(|e| format!("cannot write `{}`: {e}", p.display()))?;
        written.push(p);
    }
    let svg = dir.join("pareto.svg");
    plot(records, &svg).map_err(|e| format!("cannot draw `{}`: {e}", svg.display()))?;
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
