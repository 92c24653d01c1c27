//! Times max pooling (2×2, stride 2) forward and backward on cnn_small's shapes, batch 64:
//! `cargo run --release -p nasc-kernels --example pool_speed`.
use nasc_kernels::pool::{self, PoolGeom};
use std::time::Instant;

fn best(mut f: impl FnMut()) -> f64 {
    f();
    (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..5 {
                f();
            }
            t.elapsed().as_secs_f64() / 5.0
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    for (hw, c) in [(32, 16), (16, 32), (32, 64)] {
        let g = PoolGeom { batch: 64, input: [hw, hw, c], output: [hw / 2, hw / 2], window: [2, 2], stride: [2, 2], pad: [0, 0] };
        let x: Vec<f32> = (0..g.input_len()).map(|i| ((i * 7919) % 1013) as f32).collect();
        let (_, arg) = pool::max_forward(&g, &x);
        let dy = vec![1.0f32; g.output_len()];
        let f = best(|| drop(pool::max_forward(&g, &x)));
        let b = best(|| drop(pool::max_backward(&g, &dy, &arg)));
        let gb = (g.input_len() * 4) as f64 / 1e9;
        println!("max pool {hw}x{hw}x{c}: forward {:.3} ms ({:.1} GB/s of input) | backward {:.3} ms", f * 1e3, gb / f, b * 1e3);
    }
}
