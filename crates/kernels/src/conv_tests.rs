//! The convolution kernels against their definition.

use super::*;

/// The convolution by its definition, for checking the fast paths.
fn naive(g: &ConvGeom, x: &[f32], w: &[f32]) -> Vec<f32> {
    let [oh, ow, cout] = g.output;
    let [h, wd, c] = g.input;
    let (cin_g, cout_g) = (g.cin_g(), g.cout_g());
    let mut y = vec![0.0; g.output_len()];
    for n in 0..g.batch {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..cout {
                    let grp = o / cout_g;
                    let mut s = 0.0;
                    for ci in 0..cin_g {
                        for i in 0..g.kernel[0] {
                            for j in 0..g.kernel[1] {
                                if let Some((yy, xx)) = g.source(oy, ox, i, j) {
                                    let xv = x[((n * h + yy) * wd + xx) * c + grp * cin_g + ci];
                                    s += xv * w[((o * cin_g + ci) * g.kernel[0] + i) * g.kernel[1] + j];
                                }
                            }
                        }
                    }
                    y[((n * oh + oy) * ow + ox) * cout + o] = s;
                }
            }
        }
    }
    y
}

fn data(len: usize, seed: u32) -> Vec<f32> {
    (0..len).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) % 1000) as f32 / 500.0 - 1.0).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

fn geoms() -> Vec<ConvGeom> {
    let g = |input: [usize; 3], cout: usize, kernel: usize, stride: usize, dilation: usize, groups: usize| {
        let [h, w, _] = input;
        let (oh, ow) = (h.div_ceil(stride), w.div_ceil(stride));
        let pad = |n: usize, o: usize| ((o - 1) * stride + (kernel - 1) * dilation + 1).saturating_sub(n) / 2;
        ConvGeom {
            batch: 2,
            input,
            output: [oh, ow, cout],
            kernel: [kernel, kernel],
            stride: [stride, stride],
            dilation: [dilation, dilation],
            pad: [pad(h, oh), pad(w, ow)],
            groups,
        }
    };
    vec![
        g([5, 6, 3], 4, 3, 1, 1, 1),
        g([7, 7, 4], 6, 3, 2, 1, 2),
        g([6, 5, 8], 8, 3, 1, 2, 8),
        g([8, 8, 6], 6, 5, 2, 1, 6),
        g([4, 4, 5], 7, 1, 1, 1, 1),
        g([6, 6, 4], 8, 1, 2, 1, 1),
        g([6, 6, 4], 8, 3, 1, 1, 4),
        // Several im2col blocks, of equal size (2, 2, 1 images; 4, 3 per group).
        ConvGeom { batch: 5, ..g([48, 48, 40], 3, 3, 1, 1, 1) },
        ConvGeom { batch: 7, ..g([40, 40, 64], 4, 3, 1, 1, 2) },
        // Input gradients as convolutions (`transposed`): a 3×5 kernel without padding.
        ConvGeom { batch: 3, input: [12, 10, 16], output: [10, 6, 4], kernel: [3, 5], pad: [0, 0], ..g([12, 10, 16], 4, 1, 1, 1, 1) },
    ]
}

#[test]
fn some_input_gradients_are_taken_as_convolutions() {
    let used: Vec<bool> = geoms().iter().map(|g| transposed(g).is_some()).collect();
    // The 1×1 one (index 4) is a plain gemm before it gets there.
    assert_eq!(used, [false, false, false, false, true, false, false, true, false, true]);
}

#[test]
fn blocks_cover_the_batch_in_equal_parts() {
    let sizes = |g: &ConvGeom| g.blocks().map(|(a, b)| b - a).collect::<Vec<_>>();
    let all = geoms();
    assert_eq!(sizes(&all[7]), [2, 2, 1]);
    assert_eq!(sizes(&all[8]), [4, 3]);
    assert!(all.iter().all(|g| sizes(g).iter().sum::<usize>() == g.batch));
}

#[test]
fn forward_matches_the_definition() {
    for g in geoms() {
        let x = data(g.input_len(), 1);
        let w = data(g.weight_len(), 2);
        let (fast, slow) = (forward(&g, &x, &w), naive(&g, &x, &w));
        for (a, b) in fast.iter().zip(&slow) {
            assert!((a - b).abs() < 1e-4, "{g:?}: {a} vs {b}");
        }
    }
}

/// The gradients are the adjoints of the forward map: <dy, conv(x, w)> = <dx, x> = <dw, w>.
#[test]
fn gradients_are_adjoints() {
    for g in geoms() {
        let x = data(g.input_len(), 3);
        let w = data(g.weight_len(), 4);
        let dy = data(g.output_len(), 5);
        let y = naive(&g, &x, &w);
        let lhs = dot(&dy, &y);
        let dx = backward_input(&g, &dy, &w);
        let dw = backward_weight(&g, &x, &dy);
        assert!((lhs - dot(&dx, &x)).abs() < 1e-3 * lhs.abs().max(1.0), "{g:?} input");
        assert!((lhs - dot(&dw, &w)).abs() < 1e-3 * lhs.abs().max(1.0), "{g:?} weight");
    }
}

#[test]
fn weight_layouts_round_trip() {
    for g in geoms() {
        let w = data(g.weight_len(), 6);
        assert_eq!(weights_from_gemm(&g, &weights_to_gemm(&g, &w)), w);
    }
}
