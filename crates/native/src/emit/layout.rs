//! Moving data: n-d loops, gathers and scatters (transpose, slice, concat, split), broadcast
//! element-wise ops and einsum.

use super::*;

impl FnBuilder<'_> {
    /// Nested loops over `shape`; with `vec_last`, the last axis steps by four (its size is a
    /// multiple of four).
    pub(super) fn nd(&mut self, shape: &[usize], vec_last: bool, body: &mut dyn FnMut(&mut Self, &[Value])) {
        fn go<'a>(k: &mut FnBuilder<'a>, shape: &[usize], vec_last: bool, idx: &mut Vec<Value>, body: &mut dyn FnMut(&mut FnBuilder<'a>, &[Value])) {
            let d = idx.len();
            if d == shape.len() {
                body(k, idx);
                return;
            }
            let last = d + 1 == shape.len();
            let (n, step) = if last && vec_last { (shape[d] / 4, 4) } else { (shape[d], 1) };
            k.for_n(n, |k, i| {
                let i = if step == 1 { i } else { k.b.ins().imul_imm_s(i, step) };
                idx.push(i);
                go(k, shape, vec_last, idx, body);
                idx.pop();
            });
        }
        let mut idx = Vec::new();
        go(self, shape, vec_last, &mut idx, body);
    }

    /// `Σ idx[d]·strides[d]`.
    pub(super) fn linear(&mut self, idx: &[Value], strides: &[usize]) -> Value {
        let mut acc = self.iconst(0);
        for (&i, &s) in idx.iter().zip(strides) {
            if s == 0 {
                continue;
            }
            let t = if s == 1 { i } else { self.b.ins().imul_imm_s(i, s as i64) };
            acc = self.b.ins().iadd(acc, t);
        }
        acc
    }

    /// `y[idx] = x[offset + Σ idx[d]·st[d]]` over y's shape (st may hold 0s: broadcast).
    pub(super) fn gather_nd(&mut self, x: &View, y: &View, offset: usize, st: &[isize]) {
        let (xb, yb) = (self.base(x), self.base(y));
        let ys = y.strides();
        let xst: Vec<usize> = st.iter().map(|&s| s as usize).collect();
        // Four at a time when the last axis is contiguous in both.
        let r = y.shape.len();
        let vec_last = r > 0 && st[r - 1] == 1 && y.shape[r - 1].is_multiple_of(4);
        self.nd(&y.shape, vec_last, &mut |k, idx| {
            let xo = k.linear(idx, &xst);
            let yo = k.linear(idx, &ys);
            let xa = k.at(xb, xo);
            let ya = k.at(yb, yo);
            if vec_last {
                let v = k.ldv(xa, offset);
                k.st(v, ya, 0);
            } else {
                let v = k.ld(xa, offset);
                k.st(v, ya, 0);
            }
        });
    }

    /// `x` into the region of `y` starting at `at` along `axis`.
    pub(super) fn place(&mut self, x: &View, y: &View, axis: usize, at: usize) {
        let ys = y.strides();
        let region = View { shape: x.shape.clone(), offset: y.offset + at * ys[axis], ..y.clone() };
        self.scatter_nd(x, &region, &ys);
    }

    /// `y[idx] = x[idx]` where y's positions use `ys` strides (a region of a larger tensor).
    pub(super) fn scatter_nd(&mut self, x: &View, y: &View, ys: &[usize]) {
        let (xb, yb) = (self.base(x), self.base(y));
        let xs = x.strides();
        let r = x.shape.len();
        // Vector stores would run into the next region: scalar unless rows are whole.
        let vec_last = r > 0 && ys[r - 1] == 1 && x.shape[r - 1].is_multiple_of(4);
        self.nd(&x.shape, vec_last, &mut |k, idx| {
            let xo = k.linear(idx, &xs);
            let yo = k.linear(idx, ys);
            let (xa, ya) = (k.at(xb, xo), k.at(yb, yo));
            if vec_last {
                let v = k.ldv(xa, 0);
                k.st(v, ya, 0);
            } else {
                let v = k.ld(xa, 0);
                k.st(v, ya, 0);
            }
        });
    }

    /// `y` = positions `start, start + step, …` of `x` along `axis`.
    pub(super) fn slice(&mut self, x: &View, y: &View, axis: usize, start: usize, step: usize) {
        let xs = x.strides();
        let mut st: Vec<isize> = xs.iter().map(|&s| s as isize).collect();
        st[axis] *= step as isize;
        self.gather_nd(x, y, start * xs[axis], &st);
    }

    /// `part` (a region of a tensor with strides `ys`) = x from `start` along `axis`.
    pub(super) fn slice_into(&mut self, x: &View, part: &View, axis: usize, start: usize, ys: &[usize]) {
        let (xb, yb) = (self.base(x), self.base(part));
        let xs = x.strides();
        let offset = start * xs[axis];
        self.nd(&part.shape, false, &mut |k, idx| {
            let xo = k.linear(idx, &xs);
            let yo = k.linear(idx, ys);
            let (xa, ya) = (k.at(xb, xo), k.at(yb, yo));
            let v = k.ld(xa, offset);
            k.st(v, ya, 0);
        });
    }

    /// Element-wise add or multiply with broadcasting (shapes right-aligned).
    pub(super) fn binary(&mut self, a: &View, b: &View, y: &View, add: bool) {
        let op = move |k: &mut Self, p: Value, q: Value| if add { k.b.ins().fadd(p, q) } else { k.b.ins().fmul(p, q) };
        if a.shape == y.shape && b.shape == y.shape {
            let (ab, bb, yb) = (self.base(a), self.base(b), self.base(y));
            self.for_n(y.len().div_ceil(4), |k, i| {
                let (pa, qa, ya) = (k.at_scaled(ab, i, 4), k.at_scaled(bb, i, 4), k.at_scaled(yb, i, 4));
                let (p, q) = (k.ldv(pa, 0), k.ldv(qa, 0));
                let r = op(k, p, q);
                k.st(r, ya, 0);
            });
            return;
        }
        let (sa, sb) = (broadcast_strides(&a.shape, &y.shape), broadcast_strides(&b.shape, &y.shape));
        let (sa, sb): (Vec<usize>, Vec<usize>) = (sa.iter().map(|&s| s as usize).collect(), sb.iter().map(|&s| s as usize).collect());
        let ys = y.strides();
        let r = y.shape.len();
        // Vectors along the last axis when both are contiguous there (or one is a broadcast scalar).
        let last_ok = |s: usize| s == 1 || s == 0;
        let vec_last = r > 0 && y.shape[r - 1].is_multiple_of(4) && last_ok(sa[r - 1]) && last_ok(sb[r - 1]);
        let (ab, bb, yb) = (self.base(a), self.base(b), self.base(y));
        self.nd(&y.shape, vec_last, &mut |k, idx| {
            let (ao, bo, yo) = (k.linear(idx, &sa), k.linear(idx, &sb), k.linear(idx, &ys));
            let (pa, qa, ya) = (k.at(ab, ao), k.at(bb, bo), k.at(yb, yo));
            if vec_last {
                let load = |k: &mut Self, addr: Value, s: usize| {
                    if s == 1 {
                        k.ldv(addr, 0)
                    } else {
                        let v = k.ld(addr, 0);
                        k.b.ins().splat(F32X4, v)
                    }
                };
                let (p, q) = (load(k, pa, sa[r - 1]), load(k, qa, sb[r - 1]));
                let v = op(k, p, q);
                k.st(v, ya, 0);
            } else {
                let (p, q) = (k.ld(pa, 0), k.ld(qa, 0));
                let v = op(k, p, q);
                k.st(v, ya, 0);
            }
        });
    }

    /// Two-operand einsum: for every output position, the sum over the contracted letters of
    /// the operands' product. Vectorised like a matmul when the output's last letter comes from
    /// the second operand alone, contiguous in both (`bhqk,bhkd->bhqd`), or as dot products when
    /// the one contracted letter is contiguous in both operands (`bhqd,bhkd->bhqk`); otherwise
    /// one element at a time.
    pub(super) fn einsum(&mut self, spec: &str, a: &View, b: &View, y: &View) {
        let Some((lhs, out)) = spec.split_once("->") else { return };
        let ops: Vec<Vec<char>> = lhs.split(',').map(|s| s.trim().chars().collect()).collect();
        let out: Vec<char> = out.trim().chars().collect();
        let (la, lb) = (&ops[0], ops.get(1).unwrap_or(&ops[0]));
        let mut contracted: Vec<char> = Vec::new();
        for &c in la.iter().chain(lb.iter()) {
            if !out.contains(&c) && !contracted.contains(&c) {
                contracted.push(c);
            }
        }
        // An output letter's size is the output's (an operand may broadcast it from 1).
        let size = |c: char| -> usize {
            match (out.iter().position(|&x| x == c), la.iter().position(|&x| x == c)) {
                (Some(p), _) => y.shape[p],
                (None, Some(p)) => a.shape[p],
                (None, None) => lb.iter().position(|&x| x == c).map_or(1, |p| b.shape[p]),
            }
        };
        // Per letter: its stride in a view (0 when the view lacks it or broadcasts it).
        let stride = |ls: &[char], v: &View, c: char| -> usize {
            let st = v.strides();
            ls.iter().position(|&x| x == c).map_or(0, |p| if v.shape[p] == 1 { 0 } else { st[p] })
        };
        let ys = y.strides();
        let y_stride = |c: char| out.iter().position(|&x| x == c).map_or(0, |p| ys[p]);
        let strides = |ls: &[char]| -> (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>) {
            let shape = ls.iter().map(|&c| size(c)).collect();
            (shape, ls.iter().map(|&c| stride(la, a, c)).collect(), ls.iter().map(|&c| stride(lb, b, c)).collect(), ls.iter().map(|&c| y_stride(c)).collect())
        };
        let (ab, bb, yb) = (self.base(a), self.base(b), self.base(y));
        let last = out.last().copied();
        let right_vector = last.filter(|&r| !la.contains(&r) && stride(lb, b, r) == 1 && y_stride(r) == 1);
        let dot = match contracted.as_slice() {
            &[k] if stride(la, a, k) == 1 && stride(lb, b, k) == 1 => Some(k),
            _ => None,
        };
        if let Some(r) = right_vector {
            let outer: Vec<char> = out.iter().copied().filter(|&c| c != r).collect();
            let (oshape, osa, osb, osy) = strides(&outer);
            let (cshape, csa, csb, _) = strides(&contracted);
            let n = size(r);
            self.nd(&oshape, false, &mut |k, idx| {
                let (ao, bo, yo) = (k.linear(idx, &osa), k.linear(idx, &osb), k.linear(idx, &osy));
                let (a0, b0, y0) = (k.at(ab, ao), k.at(bb, bo), k.at(yb, yo));
                let vector = |k: &mut Self, v: Value, lanes: usize| {
                    let zero = k.vconst(0.0);
                    let acc = k.var(F32X4, zero);
                    let bv0 = k.at_scaled(b0, v, 4);
                    k.nd(&cshape, false, &mut |k, c| {
                        let (co_a, co_b) = (k.linear(c, &csa), k.linear(c, &csb));
                        let (pa, pb) = (k.at(a0, co_a), k.at(bv0, co_b));
                        let x = k.ld(pa, 0);
                        let xv = k.b.ins().splat(F32X4, x);
                        let w = k.ldv(pb, 0);
                        let s = k.b.use_var(acc);
                        let r = k.b.ins().fma(xv, w, s);
                        k.b.def_var(acc, r);
                    });
                    let ya = k.at_scaled(y0, v, 4);
                    let s = k.b.use_var(acc);
                    k.st_lanes(s, ya, 0, lanes);
                };
                k.for_n(n / 4, |k, v| vector(k, v, 4));
                if n % 4 != 0 {
                    let v = k.iconst((n / 4) as i64);
                    vector(k, v, n % 4);
                }
            });
            return;
        }
        if let Some(kc) = dot {
            let (oshape, osa, osb, osy) = strides(&out);
            let n = size(kc);
            self.nd(&oshape, false, &mut |k, idx| {
                let (ao, bo, yo) = (k.linear(idx, &osa), k.linear(idx, &osb), k.linear(idx, &osy));
                let (a0, b0, ya) = (k.at(ab, ao), k.at(bb, bo), k.at(yb, yo));
                let zero = k.vconst(0.0);
                let acc = k.var(F32X4, zero);
                k.for_n(n / 4, |k, v| {
                    let (pa, pb) = (k.at_scaled(a0, v, 4), k.at_scaled(b0, v, 4));
                    let (p, q) = (k.ldv(pa, 0), k.ldv(pb, 0));
                    let s = k.b.use_var(acc);
                    let r = k.b.ins().fma(p, q, s);
                    k.b.def_var(acc, r);
                });
                let s = k.b.use_var(acc);
                let mut total = k.b.ins().extractlane(s, 0);
                for l in 1..4u8 {
                    let e = k.b.ins().extractlane(s, l);
                    total = k.b.ins().fadd(total, e);
                }
                for t in n / 4 * 4..n {
                    let (p, q) = (k.ld(a0, t), k.ld(b0, t));
                    total = k.b.ins().fma(p, q, total);
                }
                k.st(total, ya, 0);
            });
            return;
        }
        let letters: Vec<char> = out.iter().chain(&contracted).copied().collect();
        let (shape, sa, sb, sy) = strides(&letters);
        let zero = self.vconst(0.0);
        self.map_flat(y, y, move |_, _| zero);
        self.nd(&shape, false, &mut |k, idx| {
            let (ao, bo, yo) = (k.linear(idx, &sa), k.linear(idx, &sb), k.linear(idx, &sy));
            let (pa, qa, ya) = (k.at(ab, ao), k.at(bb, bo), k.at(yb, yo));
            let (p, q, acc) = (k.ld(pa, 0), k.ld(qa, 0), k.ld(ya, 0));
            let r = k.b.ins().fma(p, q, acc);
            k.st(r, ya, 0);
        });
    }
}
