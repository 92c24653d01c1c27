//! `nasc props`: inferred properties of blocks and the context of their holes.

use super::{DiagFormat, print_diags};
use crate::ir::Graph;
use crate::props::{Target, infer_graph, mixing_table};
use crate::shape::Shape;
use std::path::Path;
use std::process::ExitCode;

fn dim_names(s: &Shape) -> Vec<String> {
    s.0.iter().map(|d| d.to_string()).collect()
}

fn block_text(g: &Graph) -> String {
    let p = infer_graph(g);
    let mut out = format!("block {}: {} -> {}\n", g.name, join(&p.input_shapes), join(&p.output_shapes));
    for (o, row) in p.pairs.iter().enumerate() {
        for (i, pair) in row.iter().enumerate() {
            let label = format!("input {i} {} -> output {o} {}", p.input_shapes[i], p.output_shapes[o]);
            match pair {
                Some(pp) => {
                    out.push_str(&format!("  {label}: depth {}\n", pp.depth.value()));
                    let table = mixing_table(&pp.mixing, &dim_names(&p.input_shapes[i]), &dim_names(&p.output_shapes[o]));
                    for line in table.lines() {
                        out.push_str(&format!("    {line}\n"));
                    }
                }
                None => out.push_str(&format!("  {label}: no path (or only through holes)\n")),
            }
        }
    }
    for (i, h) in g.holes() {
        let n = &g.nodes[i];
        let ins: Vec<String> = n.inputs.iter().map(|&t| g.shape(t).to_string()).collect();
        let out_shape = n.outputs.first().map(|&t| g.shape(t).to_string()).unwrap_or_default();
        out.push_str(&format!("  hole at byte {}: {} -> {}\n", h.span.start, ins.join(", "), out_shape));
        if let ([input], Some(&o)) = (n.inputs.as_slice(), n.outputs.first())
            && let Ok(t) = Target::from_hole(h, g.shape(*input), g.shape(o))
        {
            let len = crate::synth::default_max_len(&t);
            match t.infeasible(len) {
                Some(why) => out.push_str(&format!("    infeasible: {why}\n")),
                None => out.push_str(&format!("    feasible; synthesis allows up to {len} ops\n")),
            }
        }
    }
    out
}

fn block_json(g: &Graph) -> serde_json::Value {
    let p = infer_graph(g);
    let pairs: Vec<serde_json::Value> = p
        .pairs
        .iter()
        .enumerate()
        .flat_map(|(o, row)| {
            row.iter().enumerate().map(move |(i, pair)| {
                serde_json::json!({
                    "input": i, "output": o,
                    "depth": pair.as_ref().map(|pp| pp.depth.value()),
                    "mixing": pair.as_ref().map(|pp| pp.mixing.rows_as_strings()),
                })
            })
        })
        .collect();
    let holes: Vec<serde_json::Value> = g
        .holes()
        .map(|(i, h)| {
            let n = &g.nodes[i];
            serde_json::json!({
                "start": h.span.start,
                "inputs": n.inputs.iter().map(|&t| g.shape(t).to_string()).collect::<Vec<_>>(),
                "output": n.outputs.first().map(|&t| g.shape(t).to_string()),
            })
        })
        .collect();
    serde_json::json!({
        "block": g.name,
        "inputs": p.input_shapes.iter().map(Shape::to_string).collect::<Vec<_>>(),
        "outputs": p.output_shapes.iter().map(Shape::to_string).collect::<Vec<_>>(),
        "pairs": pairs,
        "holes": holes,
    })
}

fn join(v: &[Shape]) -> String {
    v.iter().map(Shape::to_string).collect::<Vec<_>>().join(", ")
}

pub fn run(file: &Path, block: Option<&str>, format: DiagFormat, color: bool) -> ExitCode {
    let c = match crate::Compilation::load(file) {
        Ok(c) => c,
        Err(f) => {
            print_diags(&f.diagnostics, &f.sources, color);
            return ExitCode::FAILURE;
        }
    };
    print_diags(c.warnings(), &c.program.sources, color);
    let checked = &c.checked;
    let graphs: Vec<&Graph> = checked.graphs.iter().filter(|g| block.is_none_or(|b| g.name == b)).collect();
    if graphs.is_empty() {
        let names: Vec<&str> = checked.graphs.iter().map(|g| g.name.as_str()).collect();
        eprintln!("error: no block named `{}` in {} (blocks: {})", block.unwrap_or(""), file.display(), names.join(", "));
        return ExitCode::FAILURE;
    }
    match format {
        DiagFormat::Text => graphs.iter().for_each(|g| print!("{}", block_text(g))),
        DiagFormat::Json => {
            let v: Vec<_> = graphs.iter().map(|g| block_json(g)).collect();
            println!("{}", serde_json::Value::Array(v));
        }
    }
    ExitCode::SUCCESS
}
