//! Convolutions (packed and depthwise), their padding copy, and pools.

use super::*;

impl FnBuilder<'_> {
    /// `x` with `pad` (top, left, bottom, right) zero rows and columns around it, into `xp`.
    pub(super) fn pad_copy(&mut self, x: &View, xp: &View, pad: [usize; 4]) {
        let [_, h, w, c] = dims4(&x.shape);
        let wp = xp.shape[2];
        let zero = self.vconst(0.0);
        self.map_flat(xp, xp, move |_, _| zero);
        let (xb, pb) = (self.base(x), self.base(xp));
        let row = w * c;
        self.for_n(h, |k, iy| {
            let src = k.at_scaled(xb, iy, row);
            let dst = k.b.ins().iadd_imm_s(iy, pad[0] as i64);
            let dst = k.b.ins().imul_imm_s(dst, (wp * c) as i64);
            let dst = k.b.ins().iadd_imm_s(dst, (pad[1] * c) as i64);
            let dst = k.at(pb, dst);
            // Whole vectors, then single floats: a vector past the row would overwrite padding.
            k.for_n(row / 4, |k, i| {
                let (s, d) = (k.at_scaled(src, i, 4), k.at_scaled(dst, i, 4));
                let v = k.ldv(s, 0);
                k.st(v, d, 0);
            });
            for i in row / 4 * 4..row {
                let v = k.ld(src, i);
                k.st(v, dst, i);
            }
        });
    }

    /// A (grouped, strided, dilated) conv on the zero-padded input `xp`: per output row, tiles
    /// of `ROWS` pixels × `VECS` vectors of a group's output channels; the reduction runs over
    /// the group's input channels with every tap unrolled.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn conv(&mut self, xp: &View, y: &View, c: &ConvDesc, weight: usize, bias: Option<usize>, clamp: Option<(f32, f32)>) {
        let [_, _, wp, cin] = dims4(&xp.shape);
        let [_, oh, ow, cout] = dims4(&y.shape);
        let (cin_g, cout_g) = (cin / c.groups, cout / c.groups);
        let cp = cout_g.div_ceil(4) * 4;
        let ([kh, kw], [sh, sw], [dh, dw]) = (c.kernel, c.stride, c.dilation);
        let per_group = kh * kw * cin_g * cp;
        let (xb, yb) = (self.base(xp), self.base(y));
        let wb = self.base(&const_view(weight));
        let bb = bias.map(|b| self.base(&const_view(b)));
        // Without groups or dilation, a kernel row's taps read consecutive input floats (the
        // pixels of a row, channels last) against consecutive weight rows: one run per kernel row.
        let segments: Vec<(usize, usize, usize)> = if c.groups == 1 && dw == 1 {
            (0..kh).map(|ky| (ky * dh * wp * cin, ky * kw * cin, kw * cin)).collect()
        } else {
            (0..kh * kw).map(|t| (((t / kw) * dh * wp + (t % kw) * dw) * cin, t * cin_g, cin_g)).collect()
        };
        // Which working set to keep in cache: when the weights outweigh the input, per group and
        // block of output channels every output pixel (the block's weights, kernel² ·
        // cin/groups · 8 floats, stay hot across the image; ResNet-50's 7×7×512 3×3 convs:
        // 30 → 18 ms); else per output row every block (its input rows stay hot; ResNet-18 on
        // 32×32 images: 49 → 43 ms).
        let weights_first = per_group * c.groups > xp.len();
        self.for_n(c.groups, |k, g| {
            let wg = k.at_scaled(wb, g, per_group);
            let xg = k.at_scaled(xb, g, cin_g);
            let yg = k.at_scaled(yb, g, cout_g);
            let bg = bb.map(|b| k.at_scaled(b, g, cout_g));
            let tile = Tile { x_step: sw * cin, y_step: cout, w_step: cp, segments: segments.clone(), bias: bg, clamp };
            // One output row's tiles for the block at output float `o`.
            let row = |k: &mut Self, oy: Value, (o, nv, lanes): (Value, usize, usize)| {
                // Input row of the first tap, output row.
                let xrow = k.b.ins().imul_imm_s(oy, (sh * wp * cin) as i64);
                let xrow = k.at(xg, xrow);
                let yrow = k.at_scaled(yg, oy, ow * cout);
                let zero = k.iconst(0);
                k.row_tiles(zero, ow, &mut |k, first, n| {
                    let xr = k.at_scaled(xrow, first, sw * cin);
                    let yr = k.at_scaled(yrow, first, cout);
                    k.tile(&tile, xr, wg, yr, (o, n, nv, lanes));
                });
            };
            if weights_first {
                k.col_blocks(cout_g, &mut |k, o, nv, lanes| k.for_n(oh, |k, oy| row(k, oy, (o, nv, lanes))));
            } else {
                k.for_n(oh, |k, oy| k.col_blocks(cout_g, &mut |k, o, nv, lanes| row(k, oy, (o, nv, lanes))));
            }
        });
    }

    /// A depthwise conv on the zero-padded input: four channels at a time for `ROWS` output
    /// pixels at once, each weight vector loaded once per tile.
    pub(super) fn depthwise(&mut self, xp: &View, y: &View, c: &ConvDesc, weight: usize, bias: Option<usize>, clamp: Option<(f32, f32)>) {
        let [_, _, wp, ch] = dims4(&xp.shape);
        let [_, oh, ow, _] = dims4(&y.shape);
        let cp = ch.div_ceil(4) * 4;
        let (xb, yb) = (self.base(xp), self.base(y));
        let wb = self.base(&const_view(weight));
        let bb = bias.map(|b| self.base(&const_view(b)));
        let ([kh, kw], [sh, sw], [dh, dw]) = (c.kernel, c.stride, c.dilation);
        self.for_n(oh, |k, oy| {
            let xrow = k.b.ins().imul_imm_s(oy, (sh * wp * ch) as i64);
            let xrow = k.at(xb, xrow);
            let yrow = k.at_scaled(yb, oy, ow * ch);
            let block = |k: &mut Self, first: Value, n: usize| {
                let xr = k.at_scaled(xrow, first, sw * ch);
                let yr = k.at_scaled(yrow, first, ch);
                let vector = |k: &mut Self, v: Value, lanes: usize| {
                    let init = match bb {
                        Some(b) => {
                            let a = k.at_scaled(b, v, 4);
                            k.ldv(a, 0)
                        }
                        None => k.vconst(0.0),
                    };
                    let accs: Vec<Variable> = (0..n).map(|_| k.var(F32X4, init)).collect();
                    let (xv, wv) = (k.at_scaled(xr, v, 4), k.at_scaled(wb, v, 4));
                    // The taps as two loops (kernel rows, then columns): an unrolled body of
                    // every tap's loads would spill (see `tile`).
                    k.for_n(kh, |k, ky| {
                        let xrow = k.at_scaled(xv, ky, dh * wp * ch);
                        let wrow = k.at_scaled(wv, ky, kw * cp);
                        k.for_n(kw, |k, kx| {
                            let xa = k.at_scaled(xrow, kx, dw * ch);
                            let wa = k.at_scaled(wrow, kx, cp);
                            let w = k.ldv(wa, 0);
                            for (p, &acc) in accs.iter().enumerate() {
                                let x = k.ldv(xa, p * sw * ch);
                                let a = k.b.use_var(acc);
                                let r = k.b.ins().fma(x, w, a);
                                k.b.def_var(acc, r);
                            }
                        });
                    });
                    let ya = k.at_scaled(yr, v, 4);
                    for (p, &acc) in accs.iter().enumerate() {
                        let a = k.b.use_var(acc);
                        let r = k.clamp(a, clamp, true);
                        k.st_lanes(r, ya, p * ch, lanes);
                    }
                };
                k.for_n(ch / 4, |k, v| vector(k, v, 4));
                if ch % 4 != 0 {
                    let v = k.iconst((ch / 4) as i64);
                    vector(k, v, ch % 4);
                }
            };
            let (full, rest) = (ow / ROWS, ow % ROWS);
            k.for_n(full, |k, b| {
                let first = k.b.ins().imul_imm_s(b, ROWS as i64);
                block(k, first, ROWS);
            });
            if rest > 0 {
                let first = k.iconst((full * ROWS) as i64);
                block(k, first, rest);
            }
        });
    }

    /// Max or average pooling (the average over the taps inside the image, or inside the padded
    /// input when the padding counts), four channels at a time.
    pub(super) fn pool(&mut self, x: &View, y: &View, p: &nasc_burn::lower::layer::PoolDesc) {
        let [_, h, w, ch] = dims4(&x.shape);
        let [_, oh, ow, _] = dims4(&y.shape);
        let max = is_max(p);
        let ([wh, ww], [sh, sw], [top, left, bottom, right]) = (p.window, p.stride, p.padding);
        let (xb, yb) = (self.base(x), self.base(y));
        self.for_n(oh, |k, oy| {
            k.for_n(ow, |k, ox| {
                let pix = k.b.ins().imul_imm_s(oy, ow as i64);
                let pix = k.b.ins().iadd(pix, ox);
                let yp = k.at_scaled(yb, pix, ch);
                let iy0 = k.b.ins().imul_imm_s(oy, sh as i64);
                let iy0 = k.b.ins().iadd_imm_s(iy0, -(top as i64));
                let ix0 = k.b.ins().imul_imm_s(ox, sw as i64);
                let ix0 = k.b.ins().iadd_imm_s(ix0, -(left as i64));
                k.for_n(ch.div_ceil(4), |k, v| {
                    let init = k.vconst(if max { f32::NEG_INFINITY } else { 0.0 });
                    let acc = k.var(F32X4, init);
                    let zero = k.fconst(0.0);
                    let count = k.var(F32, zero);
                    let xv0 = k.at_scaled(xb, v, 4);
                    for ky in 0..wh {
                        let iy = k.b.ins().iadd_imm_s(iy0, ky as i64);
                        if p.count_pad {
                            // Taps inside the padded input: from -top to h + bottom.
                            let py = k.b.ins().iadd_imm_s(iy, top as i64);
                            k.when_in(py, h + top + bottom, |k| {
                                for kx in 0..ww {
                                    let ix = k.b.ins().iadd_imm_s(ix0, (kx + left) as i64);
                                    k.when_in(ix, w + left + right, |k| k.add_one(count));
                                }
                            });
                        }
                        k.when_in(iy, h, |k| {
                            for kx in 0..ww {
                                let ix = k.b.ins().iadd_imm_s(ix0, kx as i64);
                                k.when_in(ix, w, |k| {
                                    let q = k.b.ins().imul_imm_s(iy, w as i64);
                                    let q = k.b.ins().iadd(q, ix);
                                    let xa = k.at_scaled(xv0, q, ch);
                                    let xv = k.ldv(xa, 0);
                                    let a = k.b.use_var(acc);
                                    let r = if max { k.b.ins().fmax(a, xv) } else { k.b.ins().fadd(a, xv) };
                                    k.b.def_var(acc, r);
                                    if !p.count_pad {
                                        k.add_one(count);
                                    }
                                });
                            }
                        });
                    }
                    let mut r = k.b.use_var(acc);
                    if !max {
                        let n = k.b.use_var(count);
                        let n = k.b.ins().splat(F32X4, n);
                        r = k.b.ins().fdiv(r, n);
                    }
                    let ya = k.at_scaled(yp, v, 4);
                    k.st(r, ya, 0);
                });
            });
        });
    }

    /// `var += 1.0`.
    pub(super) fn add_one(&mut self, var: Variable) {
        let n = self.b.use_var(var);
        let one = self.fconst(1.0);
        let n = self.b.ins().fadd(n, one);
        self.b.def_var(var, n);
    }
}
