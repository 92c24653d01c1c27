//! Batch normalisation in training mode over channels-last rows (`[rows, channels]`, the batch
//! and spatial dims flattened), forward and backward, each in two passes over the data.
//!
//! Sums are taken per block of rows (blocks fixed by the shape) in f32, the blocks' sums added in
//! f64 in block order, so the result does not depend on the thread count.

use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Rows per block of the per-channel sums.
const BLOCK_ROWS: usize = 256;

/// Per-channel sums of `f(row, channel)` over all rows: f32 within a block of `BLOCK_ROWS` rows
/// (vectorised; 256 terms lose nothing the tests can see), f64 across blocks. Accumulating each
/// element in f64 made the backward pass one of the larger items of a ResNet-18 step.
fn channel_sums(rows: usize, channels: usize, f: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f64> {
    let blocks: Vec<Vec<f32>> = (0..rows.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let mut acc = vec![0.0f32; channels];
            for r in b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(rows) {
                f(r, &mut acc);
            }
            acc
        })
        .collect();
    let mut total = vec![0.0f64; channels];
    for b in &blocks {
        for (t, v) in total.iter_mut().zip(b) {
            *t += *v as f64;
        }
    }
    total
}

/// A `len`-float buffer of rows of `channels`, each row written by `f(row, row's slots)` in
/// parallel: no zeroing pass first (16 MB per batch norm on ResNet-18's first stage).
fn rows_written(len: usize, channels: usize, f: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync) -> Vec<f32> {
    assert!(len == 0 || (channels > 0 && len.is_multiple_of(channels)), "batch norm: {len} values are not rows of {channels}");
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let channels = channels.max(1);
    out.spare_capacity_mut()[..len].par_chunks_mut(channels * BLOCK_ROWS).enumerate().for_each(|(b, block)| {
        for (r, row) in block.chunks_exact_mut(channels).enumerate() {
            f(b * BLOCK_ROWS + r, row);
        }
    });
    // SAFETY: `len` is a whole number of rows (asserted), and `f` writes every slot of every row.
    unsafe { out.set_len(len) };
    out
}

/// What the forward pass keeps for the backward pass and the running statistics.
#[derive(Clone, Debug)]
pub struct BatchStats {
    pub mean: Vec<f32>,
    /// Biased variance (divided by the row count), as burn and PyTorch normalise with.
    pub variance: Vec<f32>,
    pub inv_std: Vec<f32>,
    /// `y = x · scale + shift` per channel (before the ReLU, when fused).
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    /// A ReLU fused after the norm: `y = max(0, x · scale + shift)`.
    pub relu: bool,
}

/// `y = (x - mean) / sqrt(var + eps) * gamma + beta` with the batch's own statistics, and
/// `max(0, y)` when `relu`: a batch norm followed by a ReLU, in one pass and one buffer instead
/// of burn's ReLU and its backward (three more passes over the activations), bit for bit the same.
pub fn forward(x: &[f32], channels: usize, gamma: &[f32], beta: &[f32], epsilon: f64, relu: bool) -> (Vec<f32>, BatchStats) {
    let rows = x.len() / channels.max(1);
    let n = rows.max(1) as f64;
    let row = |r: usize| &x[r * channels..(r + 1) * channels];
    let sums = channel_sums(rows, channels, |r, acc| acc.iter_mut().zip(row(r)).for_each(|(a, v)| *a += v));
    let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let mean32: Vec<f32> = mean.iter().map(|m| *m as f32).collect();
    let sq = channel_sums(rows, channels, |r, acc| {
        for ((a, v), m) in acc.iter_mut().zip(row(r)).zip(&mean32) {
            let d = v - m;
            *a += d * d;
        }
    });
    let variance: Vec<f64> = sq.iter().map(|s| s / n).collect();
    let inv_std: Vec<f32> = variance.iter().map(|v| (1.0 / (v + epsilon).sqrt()) as f32).collect();
    let mean = mean32;
    let scale: Vec<f32> = gamma.iter().zip(&inv_std).map(|(g, s)| g * s).collect();
    let shift: Vec<f32> = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
    let y = rows_written(x.len(), channels, |r, yr| {
        for (((o, v), s), t) in yr.iter_mut().zip(&x[r * channels..]).zip(&scale).zip(&shift) {
            let y = v * s + t;
            o.write(if relu { y.max(0.0) } else { y });
        }
    });
    let variance = variance.iter().map(|v| *v as f32).collect();
    (y, BatchStats { mean, variance, inv_std, scale, shift, relu })
}

/// Gradients for `x`, `gamma` and `beta` from `dy` (of the ReLU's output when one is fused).
pub fn backward(x: &[f32], dy: &[f32], channels: usize, gamma: &[f32], stats: &BatchStats) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    if stats.relu { backward_with::<true>(x, dy, channels, gamma, stats) } else { backward_with::<false>(x, dy, channels, gamma, stats) }
}

/// `backward`, compiled once with and once without the ReLU's mask.
fn backward_with<const RELU: bool>(x: &[f32], dy: &[f32], channels: usize, gamma: &[f32], stats: &BatchStats) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    // The gradient reaching the norm's output: zero where the fused ReLU's output was zero, as
    // burn's ReLU backward has it (the same expression as the forward pass, so the same mask).
    let (scale, shift) = (&stats.scale, &stats.shift);
    let masked = |c: usize, x: f32, d: f32| if !RELU || x * scale[c] + shift[c] > 0.0 { d } else { 0.0 };
    let rows = x.len() / channels.max(1);
    let n = rows.max(1) as f64;
    let range = |r: usize| r * channels..(r + 1) * channels;
    // d_beta = Σ dy, d_gamma = Σ dy · x̂, in one pass (interleaved in one accumulator).
    let sums = channel_sums(rows, 2 * channels, |r, acc| {
        let (xr, dr) = (&x[range(r)], &dy[range(r)]);
        let (db, dg) = acc.split_at_mut(channels);
        for c in 0..channels {
            let xhat = (xr[c] - stats.mean[c]) * stats.inv_std[c];
            let d = masked(c, xr[c], dr[c]);
            db[c] += d;
            dg[c] += d * xhat;
        }
    });
    let (d_beta, d_gamma) = sums.split_at(channels);
    // dx = γ·σ⁻¹·(dy − Σdy/n − x̂·Σ(dy·x̂)/n), with x̂ = (x − μ)·σ⁻¹, is `a·dy + b·x + c` per
    // channel: two fused multiply-adds an element instead of two divisions.
    let (mut a, mut b, mut k) = (vec![0.0f32; channels], vec![0.0f32; channels], vec![0.0f32; channels]);
    for ch in 0..channels {
        let (g, s, m) = (gamma[ch] as f64, stats.inv_std[ch] as f64, stats.mean[ch] as f64);
        let slope = -g * s * s * d_gamma[ch] / n;
        a[ch] = (g * s) as f32;
        b[ch] = slope as f32;
        k[ch] = (-g * s * d_beta[ch] / n - slope * m) as f32;
    }
    let dx = rows_written(x.len(), channels, |r, o| {
        let (xr, dr) = (&x[range(r)], &dy[range(r)]);
        for c in 0..channels {
            o[c].write(a[c] * masked(c, xr[c], dr[c]) + b[c] * xr[c] + k[c]);
        }
    });
    let to_f32 = |v: &[f64]| v.iter().map(|v| *v as f32).collect::<Vec<f32>>();
    (dx, to_f32(d_gamma), to_f32(d_beta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, seed: u64) -> Vec<f32> {
        (0..len as u64).map(|i| ((i.wrapping_mul(6364136223846793005).wrapping_add(seed) >> 40) % 1000) as f32 / 250.0 - 2.0).collect()
    }

    #[test]
    fn normalises_each_channel() {
        let (c, x) = (3, data(600, 1));
        let (y, stats) = forward(&x, c, &[1.0; 3], &[0.0; 3], 1e-5, false);
        for ch in 0..c {
            let col: Vec<f32> = y.iter().skip(ch).step_by(c).copied().collect();
            let mean = col.iter().sum::<f32>() / col.len() as f32;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / col.len() as f32;
            assert!(mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3, "channel {ch}: {mean} {var}");
            assert!(stats.variance[ch] > 0.0);
        }
    }

    /// Finite differences of L = Σ w·y on a few coordinates.
    #[test]
    fn gradients_match_finite_differences() {
        let (c, x) = (4, data(4 * 37, 2));
        let (gamma, beta) = (data(4, 3), data(4, 4));
        let w = data(x.len(), 5);
        let loss = |x: &[f32], g: &[f32], b: &[f32]| -> f64 {
            let (y, _) = forward(x, c, g, b, 1e-5, false);
            y.iter().zip(&w).map(|(a, b)| *a as f64 * *b as f64).sum()
        };
        let (_, stats) = forward(&x, c, &gamma, &beta, 1e-5, false);
        let (dx, dg, db) = backward(&x, &w, c, &gamma, &stats);
        let h = 1e-2f32;
        for i in [0, 5, 77, 140] {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += h;
            xm[i] -= h;
            let fd = (loss(&xp, &gamma, &beta) - loss(&xm, &gamma, &beta)) / (2.0 * h as f64);
            assert!((fd - dx[i] as f64).abs() < 2e-2 * fd.abs().max(0.1), "dx[{i}]: {fd} vs {}", dx[i]);
        }
        for ch in 0..c {
            let (mut gp, mut gm) = (gamma.clone(), gamma.clone());
            gp[ch] += h;
            gm[ch] -= h;
            let fd = (loss(&x, &gp, &beta) - loss(&x, &gm, &beta)) / (2.0 * h as f64);
            assert!((fd - dg[ch] as f64).abs() < 1e-2 * fd.abs().max(0.1), "dgamma[{ch}]");
            let (mut bp, mut bm) = (beta.clone(), beta.clone());
            bp[ch] += h;
            bm[ch] -= h;
            let fd = (loss(&x, &gamma, &bp) - loss(&x, &gamma, &bm)) / (2.0 * h as f64);
            assert!((fd - db[ch] as f64).abs() < 1e-2 * fd.abs().max(0.1), "dbeta[{ch}]");
        }
    }

    /// The fused ReLU is exactly a ReLU after the norm: its output, and the norm's gradients of
    /// the masked output gradient.
    #[test]
    fn a_fused_relu_is_the_relu_of_the_norm_bit_for_bit() {
        let (c, x) = (5, data(5 * 300, 6));
        let (gamma, beta, dy) = (data(5, 7), data(5, 8), data(x.len(), 9));
        let (y, plain) = forward(&x, c, &gamma, &beta, 1e-5, false);
        let (yr, fused) = forward(&x, c, &gamma, &beta, 1e-5, true);
        assert!(y.iter().any(|v| *v < 0.0) && y.iter().any(|v| *v > 0.0));
        assert_eq!(yr, y.iter().map(|v| v.max(0.0)).collect::<Vec<_>>());
        let dy_masked: Vec<f32> = dy.iter().zip(&y).map(|(d, v)| if *v > 0.0 { *d } else { 0.0 }).collect();
        assert_eq!(backward(&x, &dy, c, &gamma, &fused), backward(&x, &dy_masked, c, &gamma, &plain));
    }
}
