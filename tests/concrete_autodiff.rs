//! The abstract mixing of ops and small chains is never above the concrete mixing read off burn
//! autodiff gradients (paper §3.1). Batch norm and dropout are left out (in training mode they
//! mix the batch or drop entries); max-pool passes gradient to one element per window, so its
//! Jacobian is sparser than what it reads (the structural oracle in props_oracle.rs covers it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use nasc::lower::concrete::concrete_mixing;
use nasc::lower::lower;

/// (input type, body, output type, input dims at batch 2)
const CASES: &[(&str, &str, &str, &[usize])] = &[
    ("[B, 5, 4]", "x |> dense(3)", "[B, 5, 3]", &[2, 5, 4]),
    ("[B, 6, 6, 4]", "x |> conv(4, kernel: 3)", "[B, 6, 6, 4]", &[2, 6, 6, 4]),
    ("[B, 6, 6, 4]", "x |> conv(4, kernel: 3, stride: 2)", "[B, 3, 3, 4]", &[2, 6, 6, 4]),
    ("[B, 6, 6, 4]", "x |> conv(4, kernel: 3, dilation: 2)", "[B, 6, 6, 4]", &[2, 6, 6, 4]),
    ("[B, 6, 6, 4]", "x |> conv(4, kernel: 3, groups: 2)", "[B, 6, 6, 4]", &[2, 6, 6, 4]),
    ("[B, 6, 6, 4]", "x |> conv(4, kernel: 1)", "[B, 6, 6, 4]", &[2, 6, 6, 4]),
    ("[B, 6, 6, 4]", "x |> avg_pool(2)", "[B, 3, 3, 4]", &[2, 6, 6, 4]),
    ("[B, 6, 6, 4]", "x |> avg_pool(3, stride: 1)", "[B, 6, 6, 4]", &[2, 6, 6, 4]),
    ("[B, 5, 4]", "x |> layer_norm", "[B, 5, 4]", &[2, 5, 4]),
    ("[B, 5, 4]", "x |> softmax(axis: 1)", "[B, 5, 4]", &[2, 5, 4]),
    ("[B, 4, 4, 3]", "x |> mean(axes: [1, 2], keepdims: true)", "[B, 1, 1, 3]", &[2, 4, 4, 3]),
    ("[B, 4, 4, 4]", "x |> group_norm(2)", "[B, 4, 4, 4]", &[2, 4, 4, 4]),
    ("[B, 5, 4]", "einsum(x, x, spec: \"bnd,bmd->bnm\")", "[B, 5, 5]", &[2, 5, 4]),
    ("[B, 5, 4]", "x |> transpose([0, 2, 1])", "[B, 4, 5]", &[2, 5, 4]),
    ("[B, 4, 4, 3]", "x |> flatten", "[B, 48]", &[2, 4, 4, 3]),
    ("[B, 5, 4]", "x |> gelu |> dense(4) |> sigmoid", "[B, 5, 4]", &[2, 5, 4]),
    ("[B, 6, 6, 4]", "x |> conv(4, kernel: 3) |> silu |> avg_pool(2) |> dense(8)", "[B, 3, 3, 8]", &[2, 6, 6, 4]),
];

#[test]
fn abstract_mixing_is_below_autodiff_mixing() {
    let device = nasc::train::device("cpu").expect("cpu").autodiff();
    let mut equal = 0;
    for (ty, body, out, dims) in CASES {
        let src = format!("model M(x: {ty}) -> {out} {{\n    return {body}\n}}\n");
        let module = nasc::compile("m.nas", &src).unwrap_or_else(|d| panic!("{src}: {d:?}"));
        let graph = module.checked.graph("M").expect("graph");
        device.seed(1);
        let net = lower(graph, &device).expect("lowers");
        let props = nasc::props::infer_graph(graph);
        let abs = props.pairs[0][0].as_ref().expect("a path").mixing.clone();
        let conc = concrete_mixing(&net, dims, &device);
        for i in 0..abs.rows {
            for j in 0..abs.cols {
                assert!(abs.get(i, j) <= conc.get(i, j), "{body}: abstract {abs:?} above autodiff {conc:?} at ({i}, {j})");
            }
        }
        equal += usize::from(abs == conc);
    }
    println!("abstract equals autodiff-concrete mixing for {equal} of {} cases", CASES.len());
}
