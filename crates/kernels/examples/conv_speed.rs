//! Times the convolution kernels on ResNet-18 (CIFAR) layer shapes, batch 64, and prints GFLOP/s,
//! then max pooling (2×2, stride 2) on cnn_small's shapes:
//! `cargo run --release -p nasc-kernels --example conv_speed` (or in the dev profile, which
//! optimises this crate fully). Run the release binary with
//! `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824`
//! to time the kernels without the fresh pages glibc's defaults give every large buffer (the
//! `nasc` binary sets this itself).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations
use nasc_kernels::conv::{self, ConvGeom};
use nasc_kernels::pool::{self, PoolGeom};
use std::time::Instant;

fn geom(hw: usize, cin: usize, cout: usize, k: usize, stride: usize) -> ConvGeom {
    let pad = (k - 1) / 2;
    ConvGeom {
        batch: 64,
        input: [hw, hw, cin],
        output: [hw / stride, hw / stride, cout],
        kernel: [k, k],
        stride: [stride; 2],
        dilation: [1, 1],
        pad: [if stride == 2 && k == 3 { 0 } else { pad }; 2],
        groups: 1,
    }
}

/// The best of 5 rounds of 3 calls: the machine's speed drifts between seconds.
fn time(mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..3 {
                f();
            }
            t.elapsed().as_secs_f64() / 3.0
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    for (name, g) in [
        ("3x3 64->64 32x32", geom(32, 64, 64, 3, 1)),
        ("3x3 128->128 16x16", geom(16, 128, 128, 3, 1)),
        ("3x3 256->256 8x8", geom(8, 256, 256, 3, 1)),
        ("3x3 512->512 4x4", geom(4, 512, 512, 3, 1)),
        ("1x1 64->128 s2", geom(32, 64, 128, 1, 2)),
    ] {
        let x = vec![0.5f32; g.input_len()];
        let w = vec![0.1f32; g.weight_len()];
        let dy = vec![0.2f32; g.output_len()];
        let flops = 2.0 * (g.output_len() * g.weight_len() / g.output[2]) as f64;
        let f = time(|| drop(conv::forward(&g, &x, &w)));
        let bi = time(|| drop(conv::backward_input(&g, &dy, &w)));
        let bw = time(|| drop(conv::backward_weight(&g, &x, &dy)));
        println!(
            "{name:<20} forward {:7.1} ms {:6.1} GFLOP/s | input grad {:7.1} ms {:6.1} | weight grad {:7.1} ms {:6.1}",
            f * 1e3,
            flops / f / 1e9,
            bi * 1e3,
            flops / bi / 1e9,
            bw * 1e3,
            flops / bw / 1e9
        );
    }
    // The gemm alone, at the 512-channel layer's im2col shape: [1024 × 4608] · [4608 × 512].
    // `scripts/torch_conv_speed.py` times torch.mm on the same shape.
    let [m, k, n] = [1024usize, 4608, 512];
    let (a, b) = (vec![0.5f32; m * k], vec![0.1f32; k * n]);
    let mut c = vec![0.0f32; m * n];
    let t = time(|| {
        // SAFETY: row-major views of exactly `a`, `b` and `c`; `c` is not aliased.
        unsafe {
            let par = gemm::Parallelism::Rayon(0);
            gemm::gemm(m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), 1, k as isize, b.as_ptr(), 1, n as isize, 1.0, 1.0, false, false, false, par);
        }
    });
    println!("sgemm {m}x{k} * {k}x{n}  {:7.1} ms {:6.1} GFLOP/s", t * 1e3, 2.0 * (m * k * n) as f64 / t / 1e9);
    for (hw, c) in [(32, 16), (16, 32), (32, 64)] {
        let g = PoolGeom { batch: 64, input: [hw, hw, c], output: [hw / 2, hw / 2], window: [2, 2], stride: [2, 2], pad: [0, 0], count_pad: None };
        let x: Vec<f32> = (0..g.input_len()).map(|i| ((i * 7919) % 1013) as f32).collect();
        let (_, arg) = pool::max_forward(&g, &x);
        let dy = vec![1.0f32; g.output_len()];
        let f = time(|| drop(pool::max_forward(&g, &x)));
        let b = time(|| drop(pool::max_backward(&g, &dy, &arg)));
        println!("max pool {hw}x{hw}x{c:<9} forward {:7.3} ms | backward {:7.3} ms", f * 1e3, b * 1e3);
    }
}
