//! Weights in the layouts the kernels read: padded rows, convolution taps packed per group.

use super::*;

/// `v` with zeros up to a multiple of 4 plus padding, so vector loads past `n` read zeros.
pub(super) fn padded(mut v: Vec<f32>, n: usize) -> Vec<f32> {
    v.resize(round4(n) + PAD, 0.0);
    v
}

/// A conv's taps: kernel height × width.
pub fn taps(c: &ConvDesc) -> usize {
    c.kernel[0] * c.kernel[1]
}

/// burn's conv weights `[cout][cin/groups][ky][kx]` in the kernels' order.
pub(super) fn pack_conv(w: &[f32], c: &ConvDesc, depthwise: bool) -> Vec<f32> {
    let [kh, kw] = c.kernel;
    let (cin_g, cout_g) = (c.channels / c.groups, c.features / c.groups);
    let src = |co: usize, ci: usize, ky: usize, kx: usize| w[((co * cin_g + ci) * kh + ky) * kw + kx];
    if depthwise {
        let cp = round4(c.channels);
        let mut out = vec![0.0; kh * kw * cp + PAD];
        for ky in 0..kh {
            for kx in 0..kw {
                for ch in 0..c.channels {
                    out[(ky * kw + kx) * cp + ch] = src(ch, 0, ky, kx);
                }
            }
        }
        return out;
    }
    let cp = round4(cout_g);
    let per_group = kh * kw * cin_g * cp;
    let mut out = vec![0.0; c.groups * per_group + PAD];
    for g in 0..c.groups {
        for ky in 0..kh {
            for kx in 0..kw {
                for ci in 0..cin_g {
                    for o in 0..cout_g {
                        out[g * per_group + ((ky * kw + kx) * cin_g + ci) * cp + o] = src(g * cout_g + o, ci, ky, kx);
                    }
                }
            }
        }
    }
    out
}
