//! Every rewrite rule of `nasc::rewrite` is sound: for each rule, programs on both sides of it
//! share a canonical form, and lowered to burn they compute the same outputs on random inputs
//! (relative difference below 1e-5; the rules keep the trained function, and these sides have
//! no parameters, so no weights need matching).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use burn::tensor::{Device, Distribution, Tensor};
use nasc::lower::{lower, pad, unpad};

const HEAD: &str = "model M(x: [B, 4, 6], y: [B, 4, 6]) -> [B, 4, 6] {\n    return ";

fn outputs(body: &str, x: &Tensor<3>, y: &Tensor<3>, dev: &Device) -> (Tensor<3>, String) {
    let text = format!("{HEAD}{body}\n}}\n");
    let c = nasc::compile("m.nas", &text).unwrap_or_else(|f| panic!("{f}\n{text}"));
    let g = c.model(None).expect("one model").graph;
    let form = nasc::rewrite::canonical(g).expect("no holes");
    let net = lower(g, dev).expect("lowers");
    let out = net.forward(vec![pad(x.clone()), pad(y.clone())]).remove(0);
    (unpad(out), form.fingerprint)
}

#[test]
fn both_sides_of_every_rule_compute_the_same_function() {
    let cases = [
        ("identity", "x |> identity |> relu", "x |> relu"),
        ("idempotent", "x |> relu |> relu", "x |> relu"),
        ("idempotent", "x |> relu6 |> relu6 |> relu6", "x |> relu6"),
        ("idempotent", "x |> clamp(-0.5, 0.5) |> clamp(-0.5, 0.5)", "x |> clamp(-0.5, 0.5)"),
        ("reshape_chain", "x |> reshape([B, 24]) |> reshape([B, 3, 8]) |> reshape([B, 4, 6])", "x"),
        (
            "reshape_chain",
            "x |> reshape([B, 6, 4]) |> gelu |> reshape([B, 2, 12]) |> reshape([B, 4, 6])",
            "x |> reshape([B, 6, 4]) |> gelu |> reshape([B, 4, 6])",
        ),
        ("transpose_chain", "x |> transpose([0, 2, 1]) |> transpose([0, 2, 1])", "x"),
        (
            "transpose_chain",
            "x |> transpose([2, 1, 0]) |> transpose([2, 0, 1]) |> silu |> transpose([0, 2, 1])",
            "x |> transpose([0, 2, 1]) |> silu |> transpose([0, 2, 1])",
        ),
        ("scale_fold", "x |> scale(3.0) |> scale(0.25)", "x |> scale(0.75)"),
        ("scale_fold", "x |> scale(1.0) |> tanh", "x |> tanh"),
        ("assoc_comm", "x + y", "y + x"),
        ("assoc_comm", "(x * y) * relu(x)", "relu(x) * (y * x)"),
        ("assoc_comm", "(x + y) + (relu(y) + x)", "x + (x + (relu(y) + y))"),
    ];
    let dev = Device::flex();
    let x = Tensor::<3>::random([3, 4, 6], Distribution::Normal(0.0, 1.0), &dev);
    let y = Tensor::<3>::random([3, 4, 6], Distribution::Normal(0.0, 1.0), &dev);
    for (rule, lhs, rhs) in cases {
        let ((a, fa), (b, fb)) = (outputs(lhs, &x, &y, &dev), outputs(rhs, &x, &y, &dev));
        assert_eq!(fa, fb, "{rule}: `{lhs}` and `{rhs}` have different canonical forms");
        let scale = b.clone().abs().max().into_scalar::<f32>().max(1e-6);
        let diff = (a - b).abs().max().into_scalar::<f32>() / scale;
        assert!(diff < 1e-5, "{rule}: `{lhs}` and `{rhs}` differ by {diff} (relative)");
    }
}
