//! 2-D convolution on channels-last (NHWC) f32 buffers: forward, input gradient and weight
//! gradient, by im2col + gemm (the `gemm` crate burn-flex itself uses), with a direct kernel for
//! depthwise convolutions and no im2col at all for 1×1 stride-1 convolutions.
//!
//! Weights stay in burn's `[out, in / groups, kh, kw]` layout (so modules, saved weights and the
//! emitted Rust are unchanged); each call permutes them to `[kh, kw, in / groups, out]` per group,
//! which is small next to the activations.
//!
//! Rows (output pixels) are processed in blocks of whole images whose size depends only on the
//! shapes, and every sum runs in a fixed order, so results do not depend on the thread count.

use gemm::Parallelism;
use rayon::prelude::*;

/// Everything about one convolution call that is not data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvGeom {
    pub batch: usize,
    /// Input height, width, channels.
    pub input: [usize; 3],
    /// Output height, width, channels.
    pub output: [usize; 3],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Padding before the first row and column (the rest is implied by the output size).
    pub pad: [usize; 2],
    pub groups: usize,
}

/// The most f32s an im2col block holds (8 MB) unless `MIN_BLOCK_ROWS` needs more: big enough for
/// efficient gemm calls, small enough to stay near the caches.
const BLOCK_FLOATS: usize = 1 << 21;

/// The fewest rows an im2col block has when the batch allows, above `BLOCK_FLOATS` if need be:
/// on layers with few pixels and many channels (ResNet-18's 4×4×512) 8 MB blocks held 448 rows,
/// and each block's gemm packed the 9 MB of weights again (input gradient 33 -> 29 ms).
const MIN_BLOCK_ROWS: usize = 1024;

impl ConvGeom {
    fn cin_g(&self) -> usize {
        self.input[2] / self.groups
    }
    fn cout_g(&self) -> usize {
        self.output[2] / self.groups
    }
    /// Length of one im2col row: `kh · kw · in / groups`.
    fn k(&self) -> usize {
        self.kernel[0] * self.kernel[1] * self.cin_g()
    }
    fn rows_per_image(&self) -> usize {
        self.output[0] * self.output[1]
    }
    fn image_len(&self) -> usize {
        self.input[0] * self.input[1] * self.input[2]
    }
    /// A 1×1, stride-1, unpadded, ungrouped convolution: the input rows are the im2col rows.
    fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.pad == [0, 0] && self.groups == 1 && self.input[..2] == self.output[..2]
    }
    /// One input channel per output channel.
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.input[2] && self.groups == self.output[2]
    }
    pub fn weight_len(&self) -> usize {
        self.output[2] * self.k()
    }
    pub fn input_len(&self) -> usize {
        self.batch * self.image_len()
    }
    pub fn output_len(&self) -> usize {
        self.batch * self.rows_per_image() * self.output[2]
    }
    /// Images per im2col block.
    fn images_per_block(&self) -> usize {
        let rpi = self.rows_per_image().max(1);
        let per_image = (rpi * self.k()).max(1);
        let most = (BLOCK_FLOATS / per_image).max(MIN_BLOCK_ROWS.div_ceil(rpi)).clamp(1, self.batch.max(1));
        // Blocks of equal size: a small last block (8 of 64 images on ResNet-18's 512-channel
        // layers) made a gemm too small to run at speed.
        self.batch.max(1).div_ceil(self.batch.max(1).div_ceil(most))
    }
    fn blocks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let step = self.images_per_block();
        (0..self.batch).step_by(step).map(move |n0| (n0, (n0 + step).min(self.batch)))
    }
    /// The input pixel that kernel tap (i, j) of output pixel (oy, ox) reads, if inside.
    #[inline]
    fn source(&self, oy: usize, ox: usize, i: usize, j: usize) -> Option<(usize, usize)> {
        let y = (oy * self.stride[0] + i * self.dilation[0]).checked_sub(self.pad[0])?;
        let x = (ox * self.stride[1] + j * self.dilation[1]).checked_sub(self.pad[1])?;
        (y < self.input[0] && x < self.input[1]).then_some((y, x))
    }
}

/// Weights `[out, in/g, kh, kw]` → per group `[kh, kw, in/g, out/g]`.
fn weights_to_gemm(g: &ConvGeom, w: &[f32]) -> Vec<f32> {
    permute_weights(g, w, true)
}

/// The inverse of [`weights_to_gemm`].
fn weights_from_gemm(g: &ConvGeom, wt: &[f32]) -> Vec<f32> {
    permute_weights(g, wt, false)
}

/// Input channels per task of a weight permute.
const CHANNEL_TILE: usize = 16;

/// Per group, burn's `[out][in · taps]` is a matrix whose transpose (rows reordered from
/// `(in, tap)` to `(tap, in)`) is the gemm layout. Each task takes `CHANNEL_TILE` input channels
/// with every output channel and goes through a buffer (288 KB on 512 channels, in L2), so
/// both layouts are read and written in runs: the gemm side in whole rows, burn's in runs of
/// the tile's taps. Element by element, the stores landed 2 KB or 1 MB apart, each a cache miss
/// of its own: the 512-channel layer's 9 MB of weights took 4.5 ms each way, three times per
/// training step.
fn permute_weights(g: &ConvGeom, src: &[f32], to_gemm: bool) -> Vec<f32> {
    let (cin_g, cout_g, taps, k) = (g.cin_g(), g.cout_g(), g.kernel[0] * g.kernel[1], g.k());
    let mut out: Vec<f32> = Vec::with_capacity(src.len());
    let dst = SendPtr(out.as_mut_ptr());
    let tiles = cin_g.div_ceil(CHANNEL_TILE);
    (0..g.groups * tiles).into_par_iter().for_each_init(
        || vec![0.0f32; CHANNEL_TILE * taps * cout_g],
        |buf, gt| {
            let (grp, ci0) = (gt / tiles, gt % tiles * CHANNEL_TILE);
            let run = CHANNEL_TILE.min(cin_g - ci0) * taps;
            let burn_row = |co: usize| (grp * cout_g + co) * k + ci0 * taps;
            // The tile's taps in burn's order, `(ci − ci0) · taps + t`, as the index `j`.
            let gemm_row = |j: usize| grp * k * cout_g + ((j % taps) * cin_g + ci0 + j / taps) * cout_g;
            // SAFETY (both arms): the tasks cover every (group, in channel) once and each writes
            // all taps and output channels of its own, so every element of `out` is written by
            // exactly one task; all offsets are inside `out`.
            if to_gemm {
                for co in 0..cout_g {
                    buf[co * run..][..run].copy_from_slice(&src[burn_row(co)..][..run]);
                }
                for j in 0..run {
                    let at = gemm_row(j);
                    (0..cout_g).for_each(|co| unsafe { *dst.at(at + co) = buf[co * run + j] });
                }
            } else {
                for j in 0..run {
                    let from = &src[gemm_row(j)..][..cout_g];
                    from.iter().enumerate().for_each(|(co, v)| buf[co * run + j] = *v);
                }
                for co in 0..cout_g {
                    let at = burn_row(co);
                    buf[co * run..][..run].iter().enumerate().for_each(|(j, v)| unsafe { *dst.at(at + j) = *v });
                }
            }
        },
    );
    // SAFETY: every element was written above.
    unsafe { out.set_len(src.len()) };
    out
}

/// A pointer threads may share because each writes its own elements.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: users write disjoint elements (see each use).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// A method, so closures capture the whole wrapper rather than its raw field.
    ///
    /// # Safety
    /// `offset` must be inside the allocation, and no other thread may access that element.
    unsafe fn at(&self, offset: usize) -> *mut f32 {
        unsafe { self.0.add(offset) }
    }
}

/// The input pixels one im2col row reads, kernel row by kernel row: calls
/// `f(col offset, input pixel offset within the image, length)` for every run of taps that is
/// contiguous in both the row and the (ungrouped) input, and `f(col offset, None, length)` for
/// taps outside the image. Contiguous runs (a whole kernel row, when the dilation is 1 and the
/// convolution has one group) make im2col one copy per kernel row instead of one per tap.
#[inline]
fn for_each_run(g: &ConvGeom, oy: usize, ox: usize, mut f: impl FnMut(usize, Option<usize>, usize)) {
    let (cin_g, [kh, kw]) = (g.cin_g(), g.kernel);
    let [_, w, c] = g.input;
    let whole_rows = g.dilation[1] == 1 && g.groups == 1;
    for i in 0..kh {
        let first = g.source(oy, ox, i, 0);
        let last = g.source(oy, ox, i, kw - 1);
        match (first, last) {
            (Some((y, x0)), Some(_)) if whole_rows => f(i * kw * cin_g, Some((y * w + x0) * c), kw * cin_g),
            _ => {
                for j in 0..kw {
                    let at = (i * kw + j) * cin_g;
                    f(at, g.source(oy, ox, i, j).map(|(y, x)| (y * w + x) * c), cin_g);
                }
            }
        }
    }
}

/// im2col rows for images `n0..n1` and one group: row `r` holds, for each kernel tap, the
/// group's input channels at the pixel that tap reads (zeros outside the image).
fn im2col(g: &ConvGeom, x: &[f32], (n0, n1): (usize, usize), group: usize, col: &mut [f32]) {
    let (k, cin_g, rpi, image) = (g.k(), g.cin_g(), g.rows_per_image(), g.image_len());
    let ow = g.output[1];
    let col = &mut col[..(n1 - n0) * rpi * k];
    col.par_chunks_mut(k * 64).enumerate().for_each(|(chunk, rows)| {
        for (r, row) in rows.chunks_exact_mut(k).enumerate() {
            let r = chunk * 64 + r;
            let (n, p) = (n0 + r / rpi, r % rpi);
            let xi = &x[n * image + group * cin_g..];
            for_each_run(g, p / ow, p % ow, |at, src, len| {
                let dst = &mut row[at..at + len];
                match src {
                    Some(s) => dst.copy_from_slice(&xi[s..s + len]),
                    None => dst.fill(0.0),
                }
            });
        }
    });
}

/// The adjoint of [`im2col`]: adds each im2col row back onto the input pixels it was read from.
fn col2im(g: &ConvGeom, col: &[f32], (n0, n1): (usize, usize), group: usize, dx: &mut [f32]) {
    let (k, cin_g, rpi, image) = (g.k(), g.cin_g(), g.rows_per_image(), g.image_len());
    let ow = g.output[1];
    dx[n0 * image..n1 * image].par_chunks_mut(image).enumerate().for_each(|(b, dimg)| {
        let rows = &col[b * rpi * k..(b + 1) * rpi * k];
        let dimg = &mut dimg[group * cin_g..];
        for (p, row) in rows.chunks_exact(k).enumerate() {
            for_each_run(g, p / ow, p % ow, |at, dst, len| {
                if let Some(d) = dst {
                    for (d, s) in dimg[d..d + len].iter_mut().zip(&row[at..at + len]) {
                        *d += s;
                    }
                }
            });
        }
    });
}

/// A row-major matrix view for `gemm`: pointer, row stride, column stride.
#[derive(Clone, Copy)]
struct Mat {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

impl Mat {
    fn rows(s: &[f32], offset: usize, rs: usize) -> Mat {
        Mat { ptr: s[offset..].as_ptr(), rs: rs as isize, cs: 1 }
    }
    fn t(self) -> Mat {
        Mat { ptr: self.ptr, rs: self.cs, cs: self.rs }
    }
}

/// Where a gemm writes: a slice, or a fresh buffer whose elements are written before they are
/// read (see [`written_by`]).
#[derive(Clone, Copy)]
struct Dst {
    ptr: *mut f32,
    len: usize,
}

impl Dst {
    fn of(s: &mut [f32]) -> Dst {
        Dst { ptr: s.as_mut_ptr(), len: s.len() }
    }
}

/// A buffer of `len` floats that `fill` writes completely, through gemms that do not read their
/// destination (`accumulate` false): no zeroing pass first, which cost about 1 ms of a
/// 25 ms ResNet-18 convolution.
fn written_by(len: usize, fill: impl FnOnce(Dst)) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(len);
    fill(Dst { ptr: v.as_mut_ptr(), len });
    // SAFETY: every caller's gemms write all `len` elements (each output row and column once).
    unsafe { v.set_len(len) };
    v
}

/// `dst[m×n] (+)= a[m×k] · b[k×n]`; `dst` is row-major with row stride `dst_rs` from `offset`.
fn matmul(dst: Dst, offset: usize, dst_rs: usize, accumulate: bool, a: Mat, b: Mat, [m, n, k]: [usize; 3]) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len >= offset + (m - 1) * dst_rs + n, "matmul: destination too short");
    // SAFETY: every caller passes views whose extents (m, n, k with their strides) lie inside
    // the slices they were made from; `dst` is exclusively borrowed (or not yet initialised and
    // then written without being read: `accumulate` is false for those).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.ptr.add(offset),
            1,
            dst_rs as isize,
            accumulate,
            a.ptr,
            a.cs,
            a.rs,
            b.ptr,
            b.cs,
            b.rs,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::Rayon(0),
        );
    }
}

thread_local! {
    /// The im2col buffer, kept between calls: a fresh multi-megabyte buffer per call costs page
    /// faults and zeroing on every step.
    static COL: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on an im2col buffer of `len` floats whose contents are unspecified (every user
/// writes each element before reading it).
fn with_col<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COL.with(|cell| {
        let mut buf = cell.take();
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        let r = f(&mut buf[..len]);
        cell.replace(buf);
        r
    })
}

/// `y = conv(x, w)`, NHWC in and out.
pub fn forward(g: &ConvGeom, x: &[f32], w: &[f32]) -> Vec<f32> {
    if g.is_depthwise() {
        return depthwise::forward(g, x, w);
    }
    let (k, rpi, cout, cout_g) = (g.k(), g.rows_per_image(), g.output[2], g.cout_g());
    let wt = weights_to_gemm(g, w);
    if g.is_pointwise() {
        let rows = g.batch * rpi;
        return written_by(g.output_len(), |y| matmul(y, 0, cout, false, Mat::rows(x, 0, k), Mat::rows(&wt, 0, cout), [rows, cout, k]));
    }
    // Every block and group writes its own rows and columns of `y` once.
    written_by(g.output_len(), |y| {
        with_col(g.images_per_block() * rpi * k, |col| {
            for block in g.blocks() {
                let rows = (block.1 - block.0) * rpi;
                for grp in 0..g.groups {
                    im2col(g, x, block, grp, col);
                    let b = Mat::rows(&wt, grp * k * cout_g, cout_g);
                    matmul(y, block.0 * rpi * cout + grp * cout_g, cout, false, Mat::rows(col, 0, k), b, [rows, cout_g, k]);
                }
            }
        })
    })
}

/// `dL/dx` from `dL/dy`.
pub fn backward_input(g: &ConvGeom, dy: &[f32], w: &[f32]) -> Vec<f32> {
    if g.is_depthwise() {
        return depthwise::backward_input(g, dy, w);
    }
    let (k, rpi, cout, cout_g) = (g.k(), g.rows_per_image(), g.output[2], g.cout_g());
    let wt = weights_to_gemm(g, w);
    if g.is_pointwise() {
        let rows = g.batch * rpi;
        let wt_t = Mat::rows(&wt, 0, cout).t();
        return written_by(g.input_len(), |dx| matmul(dx, 0, k, false, Mat::rows(dy, 0, cout), wt_t, [rows, k, cout]));
    }
    if let Some(t) = transposed(g) {
        return forward(&t, dy, &flipped(g, w));
    }
    // col2im adds into it.
    let mut dx = vec![0.0; g.input_len()];
    with_col(g.images_per_block() * rpi * k, |col| {
        for block in g.blocks() {
            let rows = (block.1 - block.0) * rpi;
            for grp in 0..g.groups {
                let a = Mat::rows(dy, block.0 * rpi * cout + grp * cout_g, cout);
                let wt_t = Mat::rows(&wt, grp * k * cout_g, cout_g).t();
                matmul(Dst::of(col), 0, k, false, a, wt_t, [rows, k, cout_g]);
                col2im(g, col, block, grp, &mut dx);
            }
        }
    });
    dx
}

/// For a stride-1, undilated, ungrouped convolution, `dL/dx` is itself a convolution of `dL/dy`:
/// in and out channels swapped, the kernel flipped, `kernel − 1 − pad` padding before (reads
/// past the end are zeros either way). That is im2col's copies and one gemm, instead of a gemm
/// into the im2col buffer and col2im's scattered adds into a zeroed `dx`.
/// Only where the weights are small next to the activations: it permutes the weights twice
/// more, which made ResNet-18's 4×4×512 layer slower (29 -> 32 ms) while 32×32×64 went 29 -> 25.
fn transposed(g: &ConvGeom) -> Option<ConvGeom> {
    if g.stride != [1, 1] || g.dilation != [1, 1] || g.groups != 1 || 4 * g.weight_len() > g.input_len() {
        return None;
    }
    let pad = [(g.kernel[0] - 1).checked_sub(g.pad[0])?, (g.kernel[1] - 1).checked_sub(g.pad[1])?];
    Some(ConvGeom { input: g.output, output: g.input, pad, ..*g })
}

/// The weights of [`transposed`]: `[out, in, kh, kw]` → `[in, out, kh, kw]` with the taps reversed.
fn flipped(g: &ConvGeom, w: &[f32]) -> Vec<f32> {
    let (cin, cout, taps) = (g.input[2], g.output[2], g.kernel[0] * g.kernel[1]);
    let mut out = vec![0.0; w.len()];
    out.par_chunks_mut(cout * taps).enumerate().for_each(|(ci, dst)| {
        for co in 0..cout {
            let src = &w[(co * cin + ci) * taps..][..taps];
            dst[co * taps..][..taps].iter_mut().zip(src.iter().rev()).for_each(|(d, s)| *d = *s);
        }
    });
    out
}

/// `dL/dw` (burn's `[out, in/g, kh, kw]` layout) from the input and `dL/dy`.
pub fn backward_weight(g: &ConvGeom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    if g.is_depthwise() {
        return depthwise::backward_weight(g, x, dy);
    }
    let (k, rpi, cout, cout_g) = (g.k(), g.rows_per_image(), g.output[2], g.cout_g());
    let mut dwt = vec![0.0; g.weight_len()];
    if g.is_pointwise() {
        let rows = g.batch * rpi;
        matmul(Dst::of(&mut dwt), 0, cout, false, Mat::rows(x, 0, k).t(), Mat::rows(dy, 0, cout), [k, cout, rows]);
        return weights_from_gemm(g, &dwt);
    }
    with_col(g.images_per_block() * rpi * k, |col| {
        for (b, block) in g.blocks().enumerate() {
            let rows = (block.1 - block.0) * rpi;
            for grp in 0..g.groups {
                im2col(g, x, block, grp, col);
                let a = Mat::rows(col, 0, k).t();
                let dyb = Mat::rows(dy, block.0 * rpi * cout + grp * cout_g, cout);
                matmul(Dst::of(&mut dwt), grp * k * cout_g, cout_g, b > 0, a, dyb, [k, cout_g, rows]);
            }
        }
    });
    weights_from_gemm(g, &dwt)
}

/// Adds `bias` to every row of `y` (`[rows, channels]`).
pub fn add_bias(y: &mut [f32], bias: &[f32]) {
    y.par_chunks_mut(bias.len() * 256).for_each(|rows| {
        for row in rows.chunks_exact_mut(bias.len()) {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
    });
}

/// Column sums of `dy` viewed as `[rows, channels]`: the bias gradient.
pub fn bias_grad(dy: &[f32], channels: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; channels];
    for row in dy.chunks_exact(channels) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
    out
}

/// Depthwise convolutions (one input channel per output channel): a direct kernel whose inner
/// loop runs over contiguous channels, which a gemm per channel would waste.
mod depthwise {
    use super::ConvGeom;
    use rayon::prelude::*;

    /// Weights `[c, 1, kh, kw]` → `[kh, kw, c]`.
    fn taps(g: &ConvGeom, w: &[f32]) -> Vec<f32> {
        let (c, t) = (g.output[2], g.kernel[0] * g.kernel[1]);
        let mut out = vec![0.0; w.len()];
        for ch in 0..c {
            for tap in 0..t {
                out[tap * c + ch] = w[ch * t + tap];
            }
        }
        out
    }

    /// Calls `f(output pixel index, input pixel index, tap)` for every in-bounds tap of one image.
    fn for_each_tap(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize)) {
        let [oh, ow, _] = g.output;
        let [kh, kw] = g.kernel;
        for oy in 0..oh {
            for ox in 0..ow {
                for i in 0..kh {
                    for j in 0..kw {
                        if let Some((y, x)) = g.source(oy, ox, i, j) {
                            f(oy * ow + ox, y * g.input[1] + x, i * kw + j);
                        }
                    }
                }
            }
        }
    }

    fn axpy(dst: &mut [f32], a: &[f32], b: &[f32]) {
        for ((d, a), b) in dst.iter_mut().zip(a).zip(b) {
            *d += a * b;
        }
    }

    pub fn forward(g: &ConvGeom, x: &[f32], w: &[f32]) -> Vec<f32> {
        let c = g.output[2];
        let wt = taps(g, w);
        let mut y = vec![0.0; g.output_len()];
        let out_image = g.rows_per_image() * c;
        y.par_chunks_mut(out_image).zip(x.par_chunks(g.image_len())).for_each(|(yi, xi)| {
            for_each_tap(g, |o, i, t| axpy(&mut yi[o * c..][..c], &xi[i * c..][..c], &wt[t * c..][..c]));
        });
        y
    }

    pub fn backward_input(g: &ConvGeom, dy: &[f32], w: &[f32]) -> Vec<f32> {
        let c = g.output[2];
        let wt = taps(g, w);
        let mut dx = vec![0.0; g.input_len()];
        let out_image = g.rows_per_image() * c;
        dx.par_chunks_mut(g.image_len()).zip(dy.par_chunks(out_image)).for_each(|(dxi, dyi)| {
            for_each_tap(g, |o, i, t| axpy(&mut dxi[i * c..][..c], &dyi[o * c..][..c], &wt[t * c..][..c]));
        });
        dx
    }

    pub fn backward_weight(g: &ConvGeom, x: &[f32], dy: &[f32]) -> Vec<f32> {
        let (c, t) = (g.output[2], g.kernel[0] * g.kernel[1]);
        let out_image = g.rows_per_image() * c;
        // One partial sum per image, added in image order: the same result on any thread count.
        let partials: Vec<Vec<f32>> = x
            .par_chunks(g.image_len())
            .zip(dy.par_chunks(out_image))
            .map(|(xi, dyi)| {
                let mut acc = vec![0.0; t * c];
                for_each_tap(g, |o, i, tap| axpy(&mut acc[tap * c..][..c], &xi[i * c..][..c], &dyi[o * c..][..c]));
                acc
            })
            .collect();
        let mut sum = vec![0.0f32; t * c];
        for p in &partials {
            for (s, v) in sum.iter_mut().zip(p) {
                *s += v;
            }
        }
        let mut out = vec![0.0; t * c];
        for ch in 0..c {
            for tap in 0..t {
                out[ch * t + tap] = sum[tap * c + ch];
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
