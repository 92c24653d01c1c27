//! Cranelift IR for each kernel of a plan: loops over constant bounds, 128-bit vectors of four
//! floats with fused multiply-add in the inner loops, channels-last order throughout.
//!
//! Every step becomes one function `step(scratch: *mut f32)`; its tensors are at fixed offsets
//! from `scratch` (or in constant data). Vector loops may read and write up to three floats past
//! a row's end: the plan pads every buffer, and rows are written in increasing order, so what
//! spills into the next row is overwritten when that row is computed.

use crate::plan::{Act, Buf, Kernel, Step, View, is_max, strides};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32, F32X4, I32, I32X4, I64};
use cranelift_codegen::ir::{Endianness, FuncRef, Function, GlobalValue, InstBuilder, MemFlagsData, Value};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use nasc_burn::lower::layer::ConvDesc;
use std::collections::HashMap;

/// A kernel being emitted into one function.
pub struct K<'a> {
    pub b: FunctionBuilder<'a>,
    scratch: Value,
    consts: &'a HashMap<usize, GlobalValue>,
}

fn mem() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// A tile of output rows (pixels) × vectors of outputs kept in registers. 4 × 2 measured
/// fastest on cnn_small, dwsep_cifar and resnet18_cifar among 1×4, 2×4, 3×3, 3×4, 4×3 and 6×2
/// (`nasc bench --latency --cpu-time`): 4 × 3 runs out of the 16 vector registers.
const ROWS: usize = 4;
const VECS: usize = 2;
/// Rows per cache block of `tiles`.
const CHUNK: usize = 64;

/// Emit `step` into `func` (its signature is `(scratch: i64)`).
pub fn emit_step(step: &Step, func: &mut Function, fctx: &mut FunctionBuilderContext, consts: &HashMap<usize, GlobalValue>, target: TargetFrontendConfig) {
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let scratch = b.block_params(entry)[0];
    let mut k = K { b, scratch, consts };
    k.kernel(step);
    k.b.ins().return_(&[]);
    k.b.seal_all_blocks();
    k.b.finalize(target);
}

impl K<'_> {
    fn iconst(&mut self, v: i64) -> Value {
        self.b.ins().iconst(I64, v)
    }

    fn fconst(&mut self, v: f32) -> Value {
        self.b.ins().f32const(v)
    }

    fn vconst(&mut self, v: f32) -> Value {
        let s = self.fconst(v);
        self.b.ins().splat(F32X4, s)
    }

    /// Address of float 0 of a view.
    fn base(&mut self, v: &View) -> Value {
        let root = match v.buf {
            Buf::Scratch => self.scratch,
            Buf::Const(c) => {
                let gv = self.consts[&c];
                self.b.ins().symbol_value(I64, gv)
            }
        };
        if v.offset == 0 { root } else { self.b.ins().iadd_imm_s(root, (v.offset * 4) as i64) }
    }

    /// `base + 4·index`.
    fn at(&mut self, base: Value, index: Value) -> Value {
        let off = self.b.ins().imul_imm_s(index, 4);
        self.b.ins().iadd(base, off)
    }

    /// `base + 4·(index·scale)`.
    fn at_scaled(&mut self, base: Value, index: Value, scale: usize) -> Value {
        let off = self.b.ins().imul_imm_s(index, (scale * 4) as i64);
        self.b.ins().iadd(base, off)
    }

    fn ld(&mut self, addr: Value, floats: usize) -> Value {
        self.b.ins().load(F32, mem(), addr, (floats * 4) as i32)
    }

    fn ldv(&mut self, addr: Value, floats: usize) -> Value {
        self.b.ins().load(F32X4, mem(), addr, (floats * 4) as i32)
    }

    fn st(&mut self, x: Value, addr: Value, floats: usize) {
        self.b.ins().store(mem(), x, addr, (floats * 4) as i32);
    }

    /// `body(i)` for i in 0..n (nothing when n is 0).
    fn for_n(&mut self, n: usize, body: impl FnOnce(&mut Self, Value)) {
        if n == 0 {
            return;
        }
        if n == 1 {
            let zero = self.iconst(0);
            body(self, zero);
            return;
        }
        let head = self.b.create_block();
        let i = self.b.append_block_param(head, I64);
        let exit = self.b.create_block();
        let zero = self.iconst(0);
        self.b.ins().jump(head, &[zero.into()]);
        self.b.switch_to_block(head);
        body(self, i);
        let next = self.b.ins().iadd_imm_s(i, 1);
        let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, next, n as i64);
        self.b.ins().brif(more, head, &[next.into()], exit, &[]);
        self.b.seal_block(head);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
    }

    /// `body()` when `0 ≤ v < n` (unsigned compare: negative values are huge).
    fn when_in(&mut self, v: Value, n: usize, body: impl FnOnce(&mut Self)) {
        let (then, done) = (self.b.create_block(), self.b.create_block());
        let ok = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, v, n as i64);
        self.b.ins().brif(ok, then, &[], done, &[]);
        self.b.seal_block(then);
        self.b.switch_to_block(then);
        body(self);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
    }

    fn var(&mut self, ty: cranelift_codegen::ir::Type, init: Value) -> Variable {
        let v = self.b.declare_var(ty);
        self.b.def_var(v, init);
        v
    }

    fn clamp(&mut self, x: Value, clamp: Option<(f32, f32)>, vector: bool) -> Value {
        let Some((lo, hi)) = clamp else { return x };
        let mk = |k: &mut Self, v: f32| if vector { k.vconst(v) } else { k.fconst(v) };
        let l = mk(self, lo);
        let mut y = self.b.ins().fmax(x, l);
        if hi.is_finite() {
            let h = mk(self, hi);
            y = self.b.ins().fmin(y, h);
        }
        y
    }

    fn kernel(&mut self, s: &Step) {
        let x = s.ins.first().cloned();
        let y = s.outs.first().cloned();
        match (&s.kernel, x, y) {
            (Kernel::Copy, Some(x), Some(y)) => self.map_flat(&x, &y, |_, v| v),
            (Kernel::Dense { inputs, features, weight, bias, clamp }, Some(x), Some(y)) => {
                let rows = x.len() / inputs.max(&1);
                self.dense(&x, &y, rows, *inputs, *features, *weight, *bias, *clamp);
            }
            (Kernel::Conv { geom, depthwise, weight, bias, clamp }, Some(x), Some(y)) => {
                let xp = match s.temps.first() {
                    Some(xp) => {
                        self.pad_copy(&x, xp, geom.padding);
                        xp.clone()
                    }
                    None => x,
                };
                if *depthwise {
                    self.depthwise(&xp, &y, geom, *weight, *bias, *clamp);
                } else if geom.kernel == [1, 1] && geom.stride == [1, 1] && geom.groups == 1 && geom.padding == [0; 4] {
                    // A pointwise conv is a dense layer over the pixels (same weight packing).
                    let rows = xp.len() / geom.channels;
                    self.dense(&xp, &y, rows, geom.channels, geom.features, *weight, *bias, *clamp);
                } else {
                    self.conv(&xp, &y, geom, *weight, *bias, *clamp);
                }
            }
            (Kernel::Affine { scale, shift, clamp }, Some(x), Some(y)) => self.affine(&x, &y, *scale, *shift, *clamp),
            (Kernel::LayerNorm { gamma, beta, eps }, Some(x), Some(y)) => {
                let c = *x.shape.last().unwrap_or(&1);
                self.normalize(&x, &y, Norm { rows: x.len() / c, groups: 1, per_row: true, c }, *gamma, *beta, *eps);
            }
            (Kernel::GroupNorm { groups, gamma, beta, eps }, Some(x), Some(y)) => {
                let c = *x.shape.last().unwrap_or(&1);
                self.normalize(&x, &y, Norm { rows: x.len() / c, groups: *groups, per_row: false, c }, gamma.unwrap_or(usize::MAX), *beta, *eps);
            }
            (Kernel::Pool(p), Some(x), Some(y)) => self.pool(&x, &y, p),
            (Kernel::Act(a), Some(x), Some(y)) => self.act(&x, &y, *a),
            (Kernel::Scale(v), Some(x), Some(y)) => {
                let c = self.vconst(*v);
                self.map_flat(&x, &y, move |k, e| k.b.ins().fmul(e, c));
            }
            (Kernel::Softmax { axis }, Some(x), Some(y)) => self.softmax(&x, &y, *axis),
            (Kernel::Mean { axes }, Some(x), Some(y)) => self.mean(&x, &y, axes),
            (Kernel::Add | Kernel::Mul, Some(x), Some(y)) => {
                let add = s.kernel == Kernel::Add;
                let z = s.ins.get(1).cloned().unwrap_or_else(|| x.clone());
                self.binary(&x, &z, &y, add);
            }
            (Kernel::Transpose { perm }, Some(x), Some(y)) => {
                let xs = x.strides();
                let st: Vec<isize> = perm.iter().map(|&p| xs[p] as isize).collect();
                self.gather_nd(&x, &y, 0, &st);
            }
            (Kernel::Concat { axis }, _, Some(y)) => {
                let mut at = 0;
                for x in &s.ins {
                    self.place(x, &y, *axis, at);
                    at += x.shape[*axis];
                }
            }
            (Kernel::Split { axis }, Some(x), _) => {
                let mut at = 0;
                for y in &s.outs {
                    self.slice(&x, y, *axis, at, 1);
                    at += y.shape[*axis];
                }
            }
            (Kernel::Slice { axis, start, step }, Some(x), Some(y)) => self.slice(&x, &y, *axis, *start, *step),
            (Kernel::Select { axis, index }, Some(x), Some(y)) => {
                // The output lacks the axis: index the input with the axis fixed.
                let xs = x.strides();
                let st: Vec<isize> = (0..x.shape.len()).filter(|&d| d != *axis).map(|d| xs[d] as isize).collect();
                self.gather_nd(&x, &y, index * xs[*axis], &st);
            }
            (Kernel::Roll { axis, shift }, Some(x), Some(y)) => {
                let n = x.shape[*axis] as i64;
                let s = shift.rem_euclid(n.max(1)) as usize;
                // y[i] = x[i - s]: the last s positions first, then the rest.
                let n = n as usize;
                let head = View { shape: with(&y.shape, *axis, s), ..y.clone() };
                let tail_off = y.offset + s * y.strides()[*axis];
                let tail = View { shape: with(&y.shape, *axis, n - s), offset: tail_off, ..y.clone() };
                self.slice_into(&x, &head, *axis, n - s, &y.strides());
                self.slice_into(&x, &tail, *axis, 0, &y.strides());
            }
            (Kernel::Gather { axis, indices }, Some(x), Some(y)) => {
                let ys = y.strides();
                for (j, &i) in indices.iter().enumerate() {
                    let part = View { shape: with(&y.shape, *axis, 1), offset: y.offset + j * ys[*axis], ..y.clone() };
                    self.slice_into(&x, &part, *axis, i, &ys);
                }
            }
            (Kernel::Broadcast, Some(x), Some(y)) => {
                let st = broadcast_strides(&x.shape, &y.shape);
                self.gather_nd(&x, &y, 0, &st);
            }
            (Kernel::Matmul, Some(a), Some(y)) => {
                let bm = s.ins.get(1).cloned().unwrap_or_else(|| a.clone());
                self.einsum(&matmul_spec(a.shape.len(), bm.shape.len(), y.shape.len()), &a, &bm, &y);
            }
            (Kernel::Einsum { spec }, Some(a), Some(y)) => {
                let bm = s.ins.get(1).cloned().unwrap_or_else(|| a.clone());
                self.einsum(spec, &a, &bm, &y);
            }
            // Without the views it reads or writes (the plan never makes such a step). Listed,
            // not `_`, so a new kernel cannot be forgotten here.
            (
                Kernel::Copy
                | Kernel::Dense { .. }
                | Kernel::Conv { .. }
                | Kernel::Affine { .. }
                | Kernel::LayerNorm { .. }
                | Kernel::GroupNorm { .. }
                | Kernel::Pool(_)
                | Kernel::Act(_)
                | Kernel::Scale(_)
                | Kernel::Softmax { .. }
                | Kernel::Mean { .. }
                | Kernel::Add
                | Kernel::Mul
                | Kernel::Transpose { .. }
                | Kernel::Concat { .. }
                | Kernel::Split { .. }
                | Kernel::Slice { .. }
                | Kernel::Select { .. }
                | Kernel::Roll { .. }
                | Kernel::Gather { .. }
                | Kernel::Broadcast
                | Kernel::Matmul
                | Kernel::Einsum { .. },
                _,
                _,
            ) => {}
        }
    }

    /// `y[i] = f(x[i])` over a whole tensor, four at a time.
    fn map_flat(&mut self, x: &View, y: &View, f: impl Fn(&mut Self, Value) -> Value) {
        let (xb, yb) = (self.base(x), self.base(y));
        let n = y.len().div_ceil(4);
        self.for_n(n, |k, i| {
            let (xa, ya) = (k.at_scaled(xb, i, 4), k.at_scaled(yb, i, 4));
            let v = k.ldv(xa, 0);
            let r = f(k, v);
            k.st(r, ya, 0);
        });
    }

    fn act(&mut self, x: &View, y: &View, a: Act) {
        if let Some(b) = a.bounds() {
            return self.map_flat(x, y, move |k, v| k.clamp(v, Some(b), true));
        }
        match a {
            Act::HardSigmoid | Act::HardSwish => {
                let swish = a == Act::HardSwish;
                self.map_flat(x, y, move |k, v| {
                    // relu6(x + 3) / 6, times x for hard swish.
                    let (three, sixth) = (k.vconst(3.0), k.vconst(1.0 / 6.0));
                    let s = k.b.ins().fadd(v, three);
                    let s = k.clamp(s, Some((0.0, 6.0)), true);
                    let s = k.b.ins().fmul(s, sixth);
                    if swish { k.b.ins().fmul(s, v) } else { s }
                });
            }
            Act::Sigmoid | Act::Silu => {
                let silu = a == Act::Silu;
                self.map_flat(x, y, move |k, v| {
                    let s = k.vsigmoid(v);
                    if silu { k.b.ins().fmul(v, s) } else { s }
                });
            }
            Act::Tanh => self.map_flat(x, y, |k, v| k.vtanh(v)),
            Act::Gelu => self.map_flat(x, y, |k, v| k.vgelu(v)),
            // Clamps, done above.
            Act::Relu | Act::Relu6 | Act::Clamp(..) => {}
        }
    }

    /// `y = x · scale + shift` per channel (the last axis), clamped.
    fn affine(&mut self, x: &View, y: &View, scale: usize, shift: usize, clamp: Option<(f32, f32)>) {
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

    /// Rows of `inputs` floats times `[inputs][features padded to 4]` plus bias: tiles of
    /// `ROWS` rows × up to `VECS` vectors of outputs stay in registers across the dot product,
    /// so each weight vector loaded serves every row of the tile.
    #[allow(clippy::too_many_arguments)]
    fn dense(&mut self, x: &View, y: &View, rows: usize, inputs: usize, features: usize, weight: usize, bias: Option<usize>, clamp: Option<(f32, f32)>) {
        let fp = features.div_ceil(4) * 4;
        let (xb, yb) = (self.base(x), self.base(y));
        let wb = self.base(&const_view(weight));
        let bb = bias.map(|b| self.base(&const_view(b)));
        let tile = Tile { x_step: inputs, y_step: features, w_step: fp, segments: vec![(0, 0, inputs)], bias: bb, clamp };
        self.tiles(rows, features, &mut |k, first, n, o, nv, lanes| {
            let xr = k.at_scaled(xb, first, inputs);
            let yr = k.at_scaled(yb, first, features);
            k.tile(&tile, xr, wb, yr, (o, n, nv, lanes));
        });
    }

    /// Cover `count` rows (in steps of `ROWS`, then the rest) × `outs` outputs in vectors of
    /// four (in steps of `VECS` vectors, then the rest, the partial vector last and in a block
    /// of its own count): `f(first row, rows, first output float, vectors, lanes of the last)`.
    /// Only the last vector of a row may be partial, and it is stored lane by lane: no store
    /// runs into the next row, whatever order the tiles take.
    fn tiles(&mut self, count: usize, outs: usize, f: &mut dyn FnMut(&mut Self, Value, usize, Value, usize, usize)) {
        // Rows in chunks of CHUNK; per chunk, columns outside and the chunk's rows inside: a
        // block of columns' weights stays in L1 while the chunk's rows pass over it, and the
        // chunk's inputs stay in cache across the column blocks.
        let (chunks, last) = (count / CHUNK, count % CHUNK);
        self.for_n(chunks, |k, c| {
            let base = k.b.ins().imul_imm_s(c, CHUNK as i64);
            k.chunk_tiles(base, CHUNK, outs, f);
        });
        if last > 0 {
            let base = self.iconst((chunks * CHUNK) as i64);
            self.chunk_tiles(base, last, outs, f);
        }
    }

    /// `tiles` over rows `base .. base + count`.
    fn chunk_tiles(&mut self, base: Value, count: usize, outs: usize, f: &mut dyn FnMut(&mut Self, Value, usize, Value, usize, usize)) {
        self.col_blocks(outs, &mut |k, o, nv, l| k.row_tiles(base, count, &mut |k, first, n| f(k, first, n, o, nv, l)));
    }

    /// `outs` outputs in blocks of `VECS` vectors, then the rest, the partial vector last:
    /// `f(first output float, vectors, lanes of the last)`.
    fn col_blocks(&mut self, outs: usize, f: &mut dyn FnMut(&mut Self, Value, usize, usize)) {
        let (whole, lanes) = (outs / 4, outs % 4);
        let (vfull, vrest) = (whole / VECS, whole % VECS);
        self.for_n(vfull, |k, blk| {
            let o = k.b.ins().imul_imm_s(blk, (VECS * 4) as i64);
            f(k, o, VECS, 4);
        });
        let o = self.iconst((vfull * VECS * 4) as i64);
        match (vrest, lanes) {
            (0, 0) => {}
            (v, 0) => f(self, o, v, 4),
            (v, l) if v < VECS => f(self, o, v + 1, l),
            (v, l) => {
                f(self, o, v, 4);
                let o = self.iconst(((vfull * VECS + v) * 4) as i64);
                f(self, o, 1, l);
            }
        }
    }

    /// Rows `base .. base + count` in tiles of `ROWS`, then the rest: `f(first row, rows)`.
    fn row_tiles(&mut self, base: Value, count: usize, f: &mut dyn FnMut(&mut Self, Value, usize)) {
        let (full, rest) = (count / ROWS, count % ROWS);
        self.for_n(full, |k, r| {
            let first = k.b.ins().imul_imm_s(r, ROWS as i64);
            let first = k.b.ins().iadd(first, base);
            f(k, first, ROWS);
        });
        if rest > 0 {
            let first = self.b.ins().iadd_imm_s(base, (full * ROWS) as i64);
            f(self, first, rest);
        }
    }

    /// Store the first `lanes` floats of vector `v` at `addr + 4·floats` bytes.
    fn st_lanes(&mut self, v: Value, addr: Value, floats: usize, lanes: usize) {
        if lanes >= 4 {
            return self.st(v, addr, floats);
        }
        for l in 0..lanes {
            let x = self.b.ins().extractlane(v, l as u8);
            self.st(x, addr, floats + l);
        }
    }

    /// One tile: `n` rows (row r's input at `xr + r·x_step`, output at `yr + r·y_step`) ×
    /// `nv` vectors of outputs from float `o`, the last with `lanes` floats. The reduction runs
    /// over `reduce` input floats at each tap (a tap: an offset into the input in floats, and
    /// one into the weights in rows).
    fn tile(&mut self, t: &Tile, xr: Value, wb: Value, yr: Value, (o, n, nv, lanes): (Value, usize, usize, usize)) {
        let wo = self.at(wb, o);
        let bias: Vec<Value> = (0..nv)
            .map(|j| match t.bias {
                Some(b) => {
                    let a = self.at(b, o);
                    self.ldv(a, 4 * j)
                }
                None => self.vconst(0.0),
            })
            .collect();
        let accs: Vec<Vec<Variable>> = (0..n).map(|_| bias.iter().map(|&b| self.var(F32X4, b)).collect()).collect();
        // One loop per segment with a small body: cranelift places the (pure) multiply-adds at
        // the end of a loop body, after its loads, so a body with many loads would spill.
        for &(x_off, w_row, len) in &t.segments {
            let xs0 = self.iconst(x_off as i64);
            let xs0 = self.at(xr, xs0);
            let ws0 = self.iconst((w_row * t.w_step) as i64);
            let ws0 = self.at(wo, ws0);
            self.for_n(len, |k, i| {
                let xa = k.at(xs0, i);
                let wa = k.at_scaled(ws0, i, t.w_step);
                let ws: Vec<Value> = (0..nv).map(|j| k.ldv(wa, 4 * j)).collect();
                for (r, row) in accs.iter().enumerate() {
                    let xs = k.ld(xa, r * t.x_step);
                    let xv = k.b.ins().splat(F32X4, xs);
                    for (j, &acc) in row.iter().enumerate() {
                        let a = k.b.use_var(acc);
                        let v = k.b.ins().fma(xv, ws[j], a);
                        k.b.def_var(acc, v);
                    }
                }
            });
        }
        let ya = self.at(yr, o);
        for (r, row) in accs.iter().enumerate() {
            for (j, &acc) in row.iter().enumerate() {
                let a = self.b.use_var(acc);
                let v = self.clamp(a, t.clamp, true);
                let l = if j + 1 == nv { lanes } else { 4 };
                self.st_lanes(v, ya, r * t.y_step + 4 * j, l);
            }
        }
    }

    /// `x` with `pad` (top, left, bottom, right) zero rows and columns around it, into `xp`.
    fn pad_copy(&mut self, x: &View, xp: &View, pad: [usize; 4]) {
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
    fn conv(&mut self, xp: &View, y: &View, c: &ConvDesc, weight: usize, bias: Option<usize>, clamp: Option<(f32, f32)>) {
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
    fn depthwise(&mut self, xp: &View, y: &View, c: &ConvDesc, weight: usize, bias: Option<usize>, clamp: Option<(f32, f32)>) {
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
    fn pool(&mut self, x: &View, y: &View, p: &nasc_burn::lower::layer::PoolDesc) {
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
    fn add_one(&mut self, var: Variable) {
        let n = self.b.use_var(var);
        let one = self.fconst(1.0);
        let n = self.b.ins().fadd(n, one);
        self.b.def_var(var, n);
    }

    /// Layer norm (statistics per row of `c` channels) and group norm (per group of channels,
    /// over every row): mean and (biased) variance, then `(x − mean)/√(var + eps) · gamma + beta`.
    /// `gamma = usize::MAX`: no affine part.
    fn normalize(&mut self, x: &View, y: &View, n: Norm, gamma: usize, beta: Option<usize>, eps: f32) {
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
    fn group_sum(&mut self, xg: Value, (rows, c, cg): (usize, usize, usize), f: impl Fn(&mut Self, Value, Value) -> Value) -> Value {
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
    fn softmax(&mut self, x: &View, y: &View, axis: usize) {
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
    fn mean(&mut self, x: &View, y: &View, axes: &[usize]) {
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

    /// Nested loops over `shape`; with `vec_last`, the last axis steps by four (its size is a
    /// multiple of four).
    fn nd(&mut self, shape: &[usize], vec_last: bool, body: &mut dyn FnMut(&mut Self, &[Value])) {
        fn go<'a>(k: &mut K<'a>, shape: &[usize], vec_last: bool, idx: &mut Vec<Value>, body: &mut dyn FnMut(&mut K<'a>, &[Value])) {
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
    fn linear(&mut self, idx: &[Value], strides: &[usize]) -> Value {
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
    fn gather_nd(&mut self, x: &View, y: &View, offset: usize, st: &[isize]) {
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
    fn place(&mut self, x: &View, y: &View, axis: usize, at: usize) {
        let ys = y.strides();
        let region = View { shape: x.shape.clone(), offset: y.offset + at * ys[axis], ..y.clone() };
        self.scatter_nd(x, &region, &ys);
    }

    /// `y[idx] = x[idx]` where y's positions use `ys` strides (a region of a larger tensor).
    fn scatter_nd(&mut self, x: &View, y: &View, ys: &[usize]) {
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
    fn slice(&mut self, x: &View, y: &View, axis: usize, start: usize, step: usize) {
        let xs = x.strides();
        let mut st: Vec<isize> = xs.iter().map(|&s| s as isize).collect();
        st[axis] *= step as isize;
        self.gather_nd(x, y, start * xs[axis], &st);
    }

    /// `part` (a region of a tensor with strides `ys`) = x from `start` along `axis`.
    fn slice_into(&mut self, x: &View, part: &View, axis: usize, start: usize, ys: &[usize]) {
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
    fn binary(&mut self, a: &View, b: &View, y: &View, add: bool) {
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
    fn einsum(&mut self, spec: &str, a: &View, b: &View, y: &View) {
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

/// Transcendental functions on four floats at once, in plain arithmetic (no libm call): the
/// compiled code needs nothing at link time.
impl K<'_> {
    fn vc(&mut self, v: f32) -> Value {
        self.vconst(v)
    }

    /// e^x: x = n·ln 2 + r with |r| ≤ ln2/2 (ln 2 in two parts), e^r by its degree-6 Taylor
    /// polynomial (relative error below 2e-7), 2^n built in the exponent bits; x clamped to
    /// [−87.3, 88.3] (0 and f32's largest powers of two beyond).
    fn vexp(&mut self, x: Value) -> Value {
        let (lo, hi) = (self.vc(-87.3), self.vc(88.3));
        let x = self.b.ins().fmax(x, lo);
        let x = self.b.ins().fmin(x, hi);
        let log2e = self.vc(std::f32::consts::LOG2_E);
        let n = self.b.ins().fmul(x, log2e);
        let n = self.b.ins().nearest(n);
        let (ln2_hi, ln2_lo) = (self.vc(-0.693_145_75), self.vc(-1.428_606_8e-6));
        let r = self.b.ins().fma(n, ln2_hi, x);
        let r = self.b.ins().fma(n, ln2_lo, r);
        let mut p = self.vc(1.0 / 720.0);
        for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
            let c = self.vc(c);
            p = self.b.ins().fma(p, r, c);
        }
        let ni = self.b.ins().fcvt_to_sint_sat(I32X4, n);
        let bias = self.b.ins().iconst(I32, 127);
        let bias = self.b.ins().splat(I32X4, bias);
        let e = self.b.ins().iadd(ni, bias);
        let e = self.b.ins().ishl_imm_s(e, 23);
        let scale = self.b.ins().bitcast(F32X4, lanes(), e);
        self.b.ins().fmul(p, scale)
    }

    /// Where `mask` (a comparison's lanes) is set, `a`, else `b`.
    fn vselect(&mut self, mask: Value, a: Value, b: Value) -> Value {
        let m = self.b.ins().bitcast(F32X4, lanes(), mask);
        self.b.ins().bitselect(m, a, b)
    }

    /// 1 / (1 + e^−x).
    fn vsigmoid(&mut self, x: Value) -> Value {
        let n = self.b.ins().fneg(x);
        let e = self.vexp(n);
        let one = self.vc(1.0);
        let d = self.b.ins().fadd(one, e);
        self.b.ins().fdiv(one, d)
    }

    /// tanh: its odd Taylor polynomial to x⁹ below |x| = 0.25 (error under 3e-9), else
    /// sign(x)·(1 − e)/(1 + e) with e = e^−2|x| (no cancellation that far out).
    fn vtanh(&mut self, x: Value) -> Value {
        let a = self.b.ins().fabs(x);
        let m2 = self.vc(-2.0);
        let t = self.b.ins().fmul(a, m2);
        let e = self.vexp(t);
        let one = self.vc(1.0);
        let num = self.b.ins().fsub(one, e);
        let den = self.b.ins().fadd(one, e);
        let far = self.b.ins().fdiv(num, den);
        // The sign of x (x64 has no vector copysign in cranelift 0.135).
        let zero = self.vc(0.0);
        let negative = self.b.ins().fcmp(FloatCC::LessThan, x, zero);
        let flipped = self.b.ins().fneg(far);
        let far = self.vselect(negative, flipped, far);
        let x2 = self.b.ins().fmul(x, x);
        let mut p = self.vc(62.0 / 2835.0);
        for c in [-17.0 / 315.0, 2.0 / 15.0, -1.0 / 3.0, 1.0] {
            let c = self.vc(c);
            p = self.b.ins().fma(p, x2, c);
        }
        let near = self.b.ins().fmul(p, x);
        let cut = self.vc(0.25);
        let small = self.b.ins().fcmp(FloatCC::LessThan, a, cut);
        self.vselect(small, near, far)
    }

    /// GELU as burn computes it, x/2 · (1 + erf(x/√2)), with 1 + erf(z) = erfc(−z) from the
    /// Numerical Recipes erfc (relative error below 1.2e-7 everywhere), so large negative
    /// inputs keep their relative precision: x/2 · erfc(|z|) for x < 0, x/2 · (2 − erfc(z)) else.
    fn vgelu(&mut self, x: Value) -> Value {
        let r = self.vc(std::f32::consts::FRAC_1_SQRT_2);
        let z = self.b.ins().fmul(x, r);
        let z = self.b.ins().fabs(z);
        let (one, half) = (self.vc(1.0), self.vc(0.5));
        let hz = self.b.ins().fmul(z, half);
        let den = self.b.ins().fadd(one, hz);
        let t = self.b.ins().fdiv(one, den);
        // Numerical Recipes' coefficients as published (some have more digits than f32 keeps).
        #[allow(clippy::excessive_precision)]
        const C: [f32; 10] =
            [0.170_872_77, -0.822_152_23, 1.488_515_87, -1.135_203_98, 0.278_868_07, -0.186_288_06, 0.096_784_18, 0.374_091_96, 1.000_023_68, -1.265_512_23];
        let mut p = self.vc(C[0]);
        for &c in &C[1..] {
            let c = self.vc(c);
            p = self.b.ins().fma(p, t, c);
        }
        let z2 = self.b.ins().fmul(z, z);
        let arg = self.b.ins().fsub(p, z2);
        let e = self.vexp(arg);
        let erfc = self.b.ins().fmul(t, e);
        let two = self.vc(2.0);
        let pos = self.b.ins().fsub(two, erfc);
        let zero = self.vc(0.0);
        let neg = self.b.ins().fcmp(FloatCC::LessThan, x, zero);
        let f = self.vselect(neg, erfc, pos);
        let h = self.b.ins().fmul(x, half);
        self.b.ins().fmul(h, f)
    }

    /// e^x of one float (through the vector routine).
    fn exp1(&mut self, x: Value) -> Value {
        let v = self.b.ins().splat(F32X4, x);
        let e = self.vexp(v);
        self.b.ins().extractlane(e, 0)
    }
}

fn lanes() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// What a norm normalises over: `rows` rows of `c` channels in `groups` groups, statistics
/// per row (layer norm) or over all rows (group norm).
struct Norm {
    rows: usize,
    groups: usize,
    per_row: bool,
    c: usize,
}

/// How a tile of rows × output vectors reads its inputs and weights (see `K::tile`).
struct Tile {
    /// Floats between consecutive rows' inputs and outputs.
    x_step: usize,
    y_step: usize,
    /// Floats per weight row (the padded output count).
    w_step: usize,
    /// The reduction as runs of consecutive input floats and weight rows: (input offset in
    /// floats, first weight row, length).
    segments: Vec<(usize, usize, usize)>,
    bias: Option<Value>,
    clamp: Option<(f32, f32)>,
}

fn const_view(c: usize) -> View {
    View { buf: Buf::Const(c), offset: 0, shape: vec![] }
}

fn dims4(s: &[usize]) -> [usize; 4] {
    [s[0], s[1], s[2], s[3]]
}

fn with(shape: &[usize], axis: usize, n: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    s[axis] = n;
    s
}

/// `matmul` of operands of ranks `ra` and `rb` into rank `ry` as an einsum: `[..., i, k] ×
/// [..., k, j] → [..., i, j]`, leading dims right-aligned (and broadcast where 1).
fn matmul_spec(ra: usize, rb: usize, ry: usize) -> String {
    let lead: Vec<char> = "abcdefgh".chars().take(ry.saturating_sub(2)).collect();
    let tail = |r: usize| lead[lead.len() - r.saturating_sub(2).min(lead.len())..].iter().collect::<String>();
    format!("{}ik,{}kj->{}ij", tail(ra), tail(rb), tail(ry))
}

/// Strides of `x` when broadcast to `y` (right-aligned; 0 on broadcast dims).
fn broadcast_strides(x: &[usize], y: &[usize]) -> Vec<isize> {
    let xs = strides(x);
    let off = y.len() - x.len();
    (0..y.len()).map(|d| if d < off || x[d - off] != y[d] { 0 } else { xs[d - off] as isize }).collect()
}

/// `forward(input, output, batch)`: per example, copy its input into scratch, run every step,
/// copy the result out. `steps` are the step functions, in order.
pub fn emit_forward(
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    scratch_gv: GlobalValue,
    steps: &[FuncRef],
    io: (&View, &View),
    target: TargetFrontendConfig,
) {
    let (input, output) = io;
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let [inp, out, batch] = [b.block_params(entry)[0], b.block_params(entry)[1], b.block_params(entry)[2]];
    let scratch = b.ins().symbol_value(I64, scratch_gv);
    let (head, exit) = (b.create_block(), b.create_block());
    let e = b.append_block_param(head, I64);
    let zero = b.ins().iconst(I64, 0);
    let any = b.ins().icmp_imm_s(IntCC::SignedGreaterThan, batch, 0);
    b.ins().brif(any, head, &[zero.into()], exit, &[]);
    b.switch_to_block(head);
    let consts = HashMap::new();
    let mut k = K { b, scratch, consts: &consts };
    let (n_in, n_out) = (input.len(), output.len());
    let src = k.b.ins().imul_imm_s(e, (n_in * 4) as i64);
    let src = k.b.ins().iadd(inp, src);
    let dst = k.base(input);
    k.copy_floats(src, dst, n_in);
    for &f in steps {
        k.b.ins().call(f, &[scratch]);
    }
    let src = k.base(output);
    let dst = k.b.ins().imul_imm_s(e, (n_out * 4) as i64);
    let dst = k.b.ins().iadd(out, dst);
    k.copy_floats(src, dst, n_out);
    let next = k.b.ins().iadd_imm_s(e, 1);
    let more = k.b.ins().icmp(IntCC::SignedLessThan, next, batch);
    k.b.ins().brif(more, head, &[next.into()], exit, &[]);
    k.b.seal_block(head);
    k.b.switch_to_block(exit);
    k.b.seal_block(exit);
    k.b.ins().return_(&[]);
    k.b.seal_all_blocks();
    k.b.finalize(target);
}

impl K<'_> {
    /// `n` floats from `src` to `dst`, one at a time (the caller's buffers have no padding).
    fn copy_floats(&mut self, src: Value, dst: Value, n: usize) {
        self.for_n(n, |k, i| {
            let (s, d) = (k.at(src, i), k.at(dst, i));
            let v = k.ld(s, 0);
            k.st(v, d, 0);
        });
    }
}
