//! Max and average pooling on channels-last (NHWC) f32 buffers, forward and backward.
//! Padded positions never win a max; an average counts them only when asked to (PyTorch's
//! `count_include_pad`).

use rayon::prelude::*;

/// Everything about one pooling call that is not data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolGeom {
    pub batch: usize,
    /// Input height, width, channels.
    pub input: [usize; 3],
    /// Output height and width (channels are the input's).
    pub output: [usize; 2],
    pub window: [usize; 2],
    pub stride: [usize; 2],
    /// Padding before the first row and column.
    pub pad: [usize; 2],
    /// `Some(padding after the last row and column)`: an average divides by the window's
    /// positions inside the padded input (PyTorch's `count_include_pad=True`); `None`: by those
    /// inside the image.
    pub count_pad: Option<[usize; 2]>,
}

impl PoolGeom {
    pub fn input_len(&self) -> usize {
        self.batch * self.input.iter().product::<usize>()
    }
    pub fn output_len(&self) -> usize {
        self.batch * self.output[0] * self.output[1] * self.input[2]
    }
    fn image_len(&self) -> usize {
        self.input.iter().product()
    }
    fn out_image_len(&self) -> usize {
        self.output[0] * self.output[1] * self.input[2]
    }
    /// The in-bounds input rows and columns of output pixel (oy, ox)'s window.
    fn window_of(&self, oy: usize, ox: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let span = |o: usize, d: usize| {
            let start = o * self.stride[d];
            let lo = start.saturating_sub(self.pad[d]);
            let hi = (start + self.window[d]).saturating_sub(self.pad[d]).min(self.input[d]);
            lo..hi.max(lo)
        };
        (span(oy, 0), span(ox, 1))
    }
    /// How many positions of output `o`'s window along dim `d` lie in the padded input.
    fn padded_span(&self, o: usize, d: usize, after: usize) -> usize {
        let start = o * self.stride[d];
        (start + self.window[d]).min(self.pad[d] + self.input[d] + after).saturating_sub(start)
    }
    /// Calls `f(output pixel offset, window)` for one image, where `window` calls its argument
    /// with the offset of every in-bounds input pixel, and gives their count.
    fn for_each_window(&self, mut f: impl FnMut(usize, Window)) {
        let [_, w, c] = self.input;
        let [oh, ow] = self.output;
        for oy in 0..oh {
            for ox in 0..ow {
                let (rows, cols) = self.window_of(oy, ox);
                let count = match self.count_pad {
                    Some(after) => self.padded_span(oy, 0, after[0]) * self.padded_span(ox, 1, after[1]),
                    None => rows.len() * cols.len(),
                };
                f((oy * ow + ox) * c, Window { rows, cols, row_len: w * c, c, count });
            }
        }
    }
}

/// The in-bounds input pixels of one pooling window.
struct Window {
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    row_len: usize,
    c: usize,
    /// The average's divisor.
    count: usize,
}

impl Window {
    fn count(&self) -> usize {
        self.count
    }
    fn each(&self, mut f: impl FnMut(usize)) {
        for y in self.rows.clone() {
            for x in self.cols.clone() {
                f(y * self.row_len + x * self.c);
            }
        }
    }
}

/// Max pooling: the output and, per output element, the flat index within its image of the
/// input element that won (for the backward pass).
pub fn max_forward(g: &PoolGeom, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let c = g.input[2];
    let mut y = vec![f32::NEG_INFINITY; g.output_len()];
    let mut arg = vec![0u32; g.output_len()];
    y.par_chunks_mut(g.out_image_len()).zip(arg.par_chunks_mut(g.out_image_len())).zip(x.par_chunks(g.image_len())).for_each(|((yi, ai), xi)| {
        g.for_each_window(|o, window| {
            let (out, idx) = (&mut yi[o..o + c], &mut ai[o..o + c]);
            window.each(|i| {
                // Branch-free (`|`, not `||`) over zipped slices so it vectorises: the indexed,
                // short-circuiting version compiled to scalar compares and was 18 % of a
                // cnn_small step. `>` keeps the first maximum, and a NaN input propagates as
                // burn's does.
                for (ch, ((o, ix), &v)) in out.iter_mut().zip(idx.iter_mut()).zip(&xi[i..i + c]).enumerate() {
                    let take = (v > *o) | v.is_nan();
                    *o = if take { v } else { *o };
                    *ix = if take { (i + ch) as u32 } else { *ix };
                }
            });
        });
    });
    (y, arg)
}

/// The max-pool input gradient: each output's gradient goes to the input element that won.
pub fn max_backward(g: &PoolGeom, dy: &[f32], arg: &[u32]) -> Vec<f32> {
    let mut dx = vec![0.0; g.input_len()];
    dx.par_chunks_mut(g.image_len()).zip(dy.par_chunks(g.out_image_len()).zip(arg.par_chunks(g.out_image_len()))).for_each(|(dxi, (dyi, ai))| {
        for (d, &a) in dyi.iter().zip(ai) {
            dxi[a as usize] += d;
        }
    });
    dx
}

/// Average pooling: the sum over the in-bounds part of each window over its count.
pub fn avg_forward(g: &PoolGeom, x: &[f32]) -> Vec<f32> {
    let c = g.input[2];
    let mut y = vec![0.0; g.output_len()];
    y.par_chunks_mut(g.out_image_len()).zip(x.par_chunks(g.image_len())).for_each(|(yi, xi)| {
        g.for_each_window(|o, window| {
            let out = &mut yi[o..o + c];
            window.each(|i| {
                for (v, xv) in out.iter_mut().zip(&xi[i..i + c]) {
                    *v += xv;
                }
            });
            let inv = 1.0 / window.count().max(1) as f32;
            out.iter_mut().for_each(|v| *v *= inv);
        });
    });
    y
}

/// The average-pool input gradient.
pub fn avg_backward(g: &PoolGeom, dy: &[f32]) -> Vec<f32> {
    let c = g.input[2];
    let mut dx = vec![0.0; g.input_len()];
    dx.par_chunks_mut(g.image_len()).zip(dy.par_chunks(g.out_image_len())).for_each(|(dxi, dyi)| {
        g.for_each_window(|o, window| {
            let inv = 1.0 / window.count().max(1) as f32;
            let d = &dyi[o..o + c];
            window.each(|i| {
                for (v, dv) in dxi[i..i + c].iter_mut().zip(d) {
                    *v += dv * inv;
                }
            });
        });
    });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom() -> PoolGeom {
        // 5×5 input, window 3, stride 2, one padded row/column before: outputs 3×3.
        PoolGeom { batch: 2, input: [5, 5, 3], output: [3, 3], window: [3, 3], stride: [2, 2], pad: [1, 1], count_pad: None }
    }

    fn data(len: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 37 % 101) as f32) / 10.0 - 5.0).collect()
    }

    #[test]
    fn max_pool_takes_the_window_maximum_and_routes_gradients_to_it() {
        let g = geom();
        let x = data(g.input_len());
        let (y, arg) = max_forward(&g, &x);
        // Output (0, 0) of image 0, channel 1: window rows 0..2, cols 0..2.
        let want = [0, 1].iter().flat_map(|r| [0, 1].map(|c| x[(r * 5 + c) * 3 + 1])).fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(y[1], want);
        let dx = max_backward(&g, &vec![1.0; g.output_len()], &arg);
        assert_eq!(dx.iter().sum::<f32>(), g.output_len() as f32);
        assert_eq!(dx[arg[1] as usize], dx[arg[1] as usize].max(1.0));
    }

    #[test]
    fn average_pool_counts_only_pixels_inside() {
        let g = geom();
        let x = vec![1.0; g.input_len()];
        assert!(avg_forward(&g, &x).iter().all(|v| (v - 1.0).abs() < 1e-6));
        let dy = data(g.output_len());
        let dx = avg_backward(&g, &dy);
        let xr = data(g.input_len());
        // Adjoint: <dy, avg(x)> = <avg'(dy), x>.
        let lhs: f32 = dy.iter().zip(avg_forward(&g, &xr)).map(|(a, b)| a * b).sum();
        let rhs: f32 = dx.iter().zip(&xr).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-2 * lhs.abs().max(1.0));
    }

    #[test]
    fn average_pool_can_count_the_padding_as_pytorch_does() {
        // torch.nn.functional.avg_pool2d(ones(1, 1, 5, 5), 3, 2, padding=1) (count_include_pad
        // defaults to True): corners 4/9, edges 6/9, centre 1.
        let g = PoolGeom { batch: 1, input: [5, 5, 1], count_pad: Some([1, 1]), ..geom() };
        let y = avg_forward(&g, &vec![1.0; g.input_len()]);
        let want = [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0].map(|v: f32| v / 9.0);
        assert!(y.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{y:?}");
        // The adjoint holds with the padded divisor too.
        let (dy, xr) = (data(g.output_len()), data(g.input_len()));
        let lhs: f32 = dy.iter().zip(avg_forward(&g, &xr)).map(|(a, b)| a * b).sum();
        let rhs: f32 = avg_backward(&g, &dy).iter().zip(&xr).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0));
    }
}
