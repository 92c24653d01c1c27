//! Batch-norm affine maps, layer and group norms, softmax and means.

use super::*;

impl FnBuilder<'_> {
    /// `y = x · scale + shift` per channel (the last axis), clamped.
    pub(super) fn affine(&mut self, x: &View, y: &View, scale: usize, shift: usize, clamp: Option<(f32, f32)>) {
        let c = *x.shape.last().unwrap_or(&1);
        let rows = x.len() / c.max(1);
        let cv = c.div_ceil(4);
        let (xb, yb) = (self.base(x), self.base(y));
        let sb = self.base(&const_view(scale));
        let tb = self.base(&const_view(shift));
        self.for_n(rows, |k, r| {
            let (xr, yr) = (k.at_scaled(xb, r, c), k.at_scaled(yb, r, c));
            k.for_n(cv, |k, j| {
                let (xa, ya, sa, ta) = (k.at_scaled(xr, j, 4), k.at_scaled(yr, j, 4), k.at_scaled(sb, j, 4), k.at_scaled(tb, j, 4));
                let (v, s, t) = (k.ldv(xa, 0), k.ldv(sa, 0), k.ldv(ta, 0));
                let r = k.b.ins().fma(v, s, t);
                let r = k.clamp(r, clamp, true);
                k.st(r, ya, 0);
            });
        });
    }

    /// Layer norm (statistics per row of `c` channels) and group norm (per group of channels,
    /// over every row): mean and (biased) variance, then `(x − mean)/√(var + eps) · gamma + beta`.
    /// `gamma = usize::MAX`: no affine part.
    pub(super) fn normalize(&mut self, x: &View, y: &View, n: Norm, gamma: usize, beta: Option<usize>, eps: f32) {
        let Norm { rows, groups, per_row, c } = n;
        let (xb, yb) = (self.base(x), self.base(y));
        let gb = (gamma != usize::MAX).then(|| self.base(&const_view(gamma)));
        let bb = beta.map(|b| self.base(&const_view(b)));
        let cg = c / groups.max(1);
        let (outer, inner_rows) = if per_row { (rows, 1) } else { (1, rows) };
        let count = (inner_rows * cg) as f32;
        self.for_n(outer, |k, r| {
            let xr = k.at_scaled(xb, r, c);
            let yr = k.at_scaled(yb, r, c);
            k.for_n(groups, |k, g| {
                let xg = k.at_scaled(xr, g, cg);
                let yg = k.at_scaled(yr, g, cg);
                let s = k.group_sum(xg, (inner_rows, c, cg), |k, acc, v| k.b.ins().fadd(acc, v));
                let n = k.fconst(count);
                let mean = k.b.ins().fdiv(s, n);
                let s = k.group_sum(xg, (inner_rows, c, cg), |k, acc, v| {
                    let d = k.b.ins().fsub(v, mean);
                    k.b.ins().fma(d, d, acc)
                });
                let var = k.b.ins().fdiv(s, n);
                let e = k.fconst(eps);
                let var = k.b.ins().fadd(var, e);
                let sd = k.b.ins().sqrt(var);
                let one = k.fconst(1.0);
                let inv = k.b.ins().fdiv(one, sd);
                k.for_n(inner_rows, |k, q| {
                    let xq = k.at_scaled(xg, q, c);
                    let yq = k.at_scaled(yg, q, c);
                    k.for_n(cg, |k, i| {
                        let a = k.at(xq, i);
                        let v = k.ld(a, 0);
                        let d = k.b.ins().fsub(v, mean);
                        let mut r = k.b.ins().fmul(d, inv);
                        // The channel index within the row: g·cg + i.
                        let ch = k.b.ins().imul_imm_s(g, cg as i64);
                        let ch = k.b.ins().iadd(ch, i);
                        if let Some(gb) = gb {
                            let ga = k.at(gb, ch);
                            let gv = k.ld(ga, 0);
                            r = k.b.ins().fmul(r, gv);
                        }
                        if let Some(bb) = bb {
                            let ba = k.at(bb, ch);
                            let bv = k.ld(ba, 0);
                            r = k.b.ins().fadd(r, bv);
                        }
                        let ya = k.at(yq, i);
                        k.st(r, ya, 0);
                    });
                });
            });
        });
    }

    /// `f` folded over a group's floats: `rows` rows of `cg` floats, `c` apart, from `xg`.
    pub(super) fn group_sum(&mut self, xg: Value, (rows, c, cg): (usize, usize, usize), f: impl Fn(&mut Self, Value, Value) -> Value) -> Value {
        let zero = self.fconst(0.0);
        let acc = self.var(F32, zero);
        self.for_n(rows, |k, q| {
            let xq = k.at_scaled(xg, q, c);
            k.for_n(cg, |k, i| {
                let a = k.at(xq, i);
                let v = k.ld(a, 0);
                let s = k.b.use_var(acc);
                let s = f(k, s, v);
                k.b.def_var(acc, s);
            });
        });
        self.b.use_var(acc)
    }

    /// Softmax along `axis`: per line, the max, the sum of exponentials, the quotients.
    pub(super) fn softmax(&mut self, x: &View, y: &View, axis: usize) {
        let st = x.strides();
        let (n, stride) = (x.shape[axis], st[axis]);
        let outer: usize = x.shape[..axis].iter().product();
        let inner: usize = x.shape[axis + 1..].iter().product();
        let (xb, yb) = (self.base(x), self.base(y));
        self.for_n(outer, |k, o| {
            k.for_n(inner, |k, i| {
                let line = k.b.ins().imul_imm_s(o, (n * inner) as i64);
                let line = k.b.ins().iadd(line, i);
                let (xl, yl) = (k.at(xb, line), k.at(yb, line));
                let ninf = k.fconst(f32::NEG_INFINITY);
                let m = k.var(F32, ninf);
                k.for_n(n, |k, j| {
                    let a = k.at_scaled(xl, j, stride);
                    let v = k.ld(a, 0);
                    let cur = k.b.use_var(m);
                    let r = k.b.ins().fmax(cur, v);
                    k.b.def_var(m, r);
                });
                let mx = k.b.use_var(m);
                let zero = k.fconst(0.0);
                let sum = k.var(F32, zero);
                k.for_n(n, |k, j| {
                    let a = k.at_scaled(xl, j, stride);
                    let v = k.ld(a, 0);
                    let d = k.b.ins().fsub(v, mx);
                    let e = k.exp1(d);
                    let ya = k.at_scaled(yl, j, stride);
                    k.st(e, ya, 0);
                    let s = k.b.use_var(sum);
                    let s = k.b.ins().fadd(s, e);
                    k.b.def_var(sum, s);
                });
                let s = k.b.use_var(sum);
                let one = k.fconst(1.0);
                let inv = k.b.ins().fdiv(one, s);
                k.for_n(n, |k, j| {
                    let ya = k.at_scaled(yl, j, stride);
                    let v = k.ld(ya, 0);
                    let r = k.b.ins().fmul(v, inv);
                    k.st(r, ya, 0);
                });
            });
        });
    }

    /// Mean over `axes`: zero the output, add every input element into its output position,
    /// divide. The last axis, when kept, runs four at a time.
    pub(super) fn mean(&mut self, x: &View, y: &View, axes: &[usize]) {
        let r = x.shape.len();
        // Output strides in terms of input dims (0 on reduced axes).
        let ys_full = {
            let kept: Vec<usize> = (0..r).filter(|d| !axes.contains(d)).map(|d| x.shape[d]).collect();
            let ks = strides(&kept);
            let mut out = vec![0usize; r];
            let mut j = 0;
            for d in 0..r {
                if !axes.contains(&d) {
                    out[d] = ks[j];
                    j += 1;
                }
            }
            out
        };
        let zero = self.vconst(0.0);
        self.map_flat(y, y, move |_, _| zero);
        let (xb, yb) = (self.base(x), self.base(y));
        let xs = x.strides();
        let last_kept = r > 0 && !axes.contains(&(r - 1));
        let vec_last = last_kept && x.shape[r - 1].is_multiple_of(4);
        self.nd(&x.shape, vec_last, &mut |k, idx| {
            let xo = k.linear(idx, &xs);
            let yo = k.linear(idx, &ys_full);
            let (xa, ya) = (k.at(xb, xo), k.at(yb, yo));
            if vec_last {
                let (v, acc) = (k.ldv(xa, 0), k.ldv(ya, 0));
                let s = k.b.ins().fadd(acc, v);
                k.st(s, ya, 0);
            } else {
                let (v, acc) = (k.ld(xa, 0), k.ld(ya, 0));
                let s = k.b.ins().fadd(acc, v);
                k.st(s, ya, 0);
            }
        });
        let count: usize = axes.iter().map(|&a| x.shape[a]).product();
        let inv = self.vconst(1.0 / count as f32);
        self.map_flat(y, y, move |k, v| k.b.ins().fmul(v, inv));
    }
}

/// What a norm normalises over: `rows` rows of `c` channels in `groups` groups, statistics
/// per row (layer norm) or over all rows (group norm).
pub(super) struct Norm {
    pub(super) rows: usize,
    pub(super) groups: usize,
    pub(super) per_row: bool,
    pub(super) c: usize,
}
