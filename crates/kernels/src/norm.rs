//! Batch normalisation in training mode over channels-last rows (`[rows, channels]`, the batch
//! and spatial dims flattened), forward and backward, each in two passes over the data.
//!
//! Sums are taken per block of rows (blocks fixed by the shape) in f64 and added in block order,
//! so the result does not depend on the thread count.

use rayon::prelude::*;

/// Rows per block of the per-channel sums.
const BLOCK_ROWS: usize = 256;

/// Per-channel sums of `f(row, channel)` over all rows, in f64.
fn channel_sums(rows: usize, channels: usize, f: impl Fn(usize, &mut [f64]) + Sync) -> Vec<f64> {
    let blocks: Vec<Vec<f64>> = (0..rows.div_ceil(BLOCK_ROWS))
        .into_par_iter()
        .map(|b| {
            let mut acc = vec![0.0f64; channels];
            for r in b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(rows) {
                f(r, &mut acc);
            }
            acc
        })
        .collect();
    let mut total = vec![0.0f64; channels];
    for b in &blocks {
        for (t, v) in total.iter_mut().zip(b) {
            *t += v;
        }
    }
    total
}

/// What the forward pass keeps for the backward pass and the running statistics.
#[derive(Clone, Debug)]
pub struct BatchStats {
    pub mean: Vec<f32>,
    /// Biased variance (divided by the row count), as burn and PyTorch normalise with.
    pub variance: Vec<f32>,
    pub inv_std: Vec<f32>,
}

/// `y = (x - mean) / sqrt(var + eps) * gamma + beta` with the batch's own statistics.
pub fn forward(x: &[f32], channels: usize, gamma: &[f32], beta: &[f32], epsilon: f64) -> (Vec<f32>, BatchStats) {
    let rows = x.len() / channels.max(1);
    let n = rows.max(1) as f64;
    let row = |r: usize| &x[r * channels..(r + 1) * channels];
    let sums = channel_sums(rows, channels, |r, acc| acc.iter_mut().zip(row(r)).for_each(|(a, v)| *a += *v as f64));
    let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let sq = channel_sums(rows, channels, |r, acc| {
        for ((a, v), m) in acc.iter_mut().zip(row(r)).zip(&mean) {
            let d = *v as f64 - m;
            *a += d * d;
        }
    });
    let variance: Vec<f64> = sq.iter().map(|s| s / n).collect();
    let inv_std: Vec<f32> = variance.iter().map(|v| (1.0 / (v + epsilon).sqrt()) as f32).collect();
    let mean: Vec<f32> = mean.iter().map(|m| *m as f32).collect();
    let scale: Vec<f32> = gamma.iter().zip(&inv_std).map(|(g, s)| g * s).collect();
    let shift: Vec<f32> = beta.iter().zip(&mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
    let mut y = vec![0.0; x.len()];
    y.par_chunks_mut(channels * BLOCK_ROWS).zip(x.par_chunks(channels * BLOCK_ROWS)).for_each(|(yb, xb)| {
        for (yr, xr) in yb.chunks_exact_mut(channels).zip(xb.chunks_exact(channels)) {
            for (((o, v), s), t) in yr.iter_mut().zip(xr).zip(&scale).zip(&shift) {
                *o = v * s + t;
            }
        }
    });
    let variance = variance.iter().map(|v| *v as f32).collect();
    (y, BatchStats { mean, variance, inv_std })
}

/// Gradients for `x`, `gamma` and `beta` from `dy`.
pub fn backward(x: &[f32], dy: &[f32], channels: usize, gamma: &[f32], stats: &BatchStats) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let rows = x.len() / channels.max(1);
    let n = rows.max(1) as f32;
    let range = |r: usize| r * channels..(r + 1) * channels;
    // d_beta = Σ dy, d_gamma = Σ dy · x̂, in one pass (interleaved in one accumulator).
    let sums = channel_sums(rows, 2 * channels, |r, acc| {
        let (xr, dr) = (&x[range(r)], &dy[range(r)]);
        let (db, dg) = acc.split_at_mut(channels);
        for c in 0..channels {
            let xhat = (xr[c] - stats.mean[c]) * stats.inv_std[c];
            db[c] += dr[c] as f64;
            dg[c] += (dr[c] * xhat) as f64;
        }
    });
    let d_beta: Vec<f32> = sums[..channels].iter().map(|v| *v as f32).collect();
    let d_gamma: Vec<f32> = sums[channels..].iter().map(|v| *v as f32).collect();
    let mut dx = vec![0.0; x.len()];
    let block = channels * BLOCK_ROWS;
    dx.par_chunks_mut(block).zip(x.par_chunks(block).zip(dy.par_chunks(block))).for_each(|(db, (xb, dyb))| {
        for ((o, xr), dr) in db.chunks_exact_mut(channels).zip(xb.chunks_exact(channels)).zip(dyb.chunks_exact(channels)) {
            for c in 0..channels {
                let xhat = (xr[c] - stats.mean[c]) * stats.inv_std[c];
                o[c] = gamma[c] * stats.inv_std[c] * (dr[c] - d_beta[c] / n - xhat * d_gamma[c] / n);
            }
        }
    });
    (dx, d_gamma, d_beta)
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
        let (y, stats) = forward(&x, c, &[1.0; 3], &[0.0; 3], 1e-5);
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
            let (y, _) = forward(x, c, g, b, 1e-5);
            y.iter().zip(&w).map(|(a, b)| *a as f64 * *b as f64).sum()
        };
        let (_, stats) = forward(&x, c, &gamma, &beta, 1e-5);
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
}
