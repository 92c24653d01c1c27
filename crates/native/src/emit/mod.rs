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

mod conv;
mod dense;
mod layout;
mod math;
mod norm;

use dense::Tile;
use norm::Norm;

/// A kernel being emitted into one function.
pub struct FnBuilder<'a> {
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
    let mut k = FnBuilder { b, scratch, consts };
    k.kernel(step);
    k.b.ins().return_(&[]);
    k.b.seal_all_blocks();
    k.b.finalize(target);
}

impl FnBuilder<'_> {
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
}

fn lanes() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
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
    let mut k = FnBuilder { b, scratch, consts: &consts };
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

impl FnBuilder<'_> {
    /// `n` floats from `src` to `dst`, one at a time (the caller's buffers have no padding).
    fn copy_floats(&mut self, src: Value, dst: Value, n: usize) {
        self.for_n(n, |k, i| {
            let (s, d) = (k.at(src, i), k.at(dst, i));
            let v = k.ld(s, 0);
            k.st(v, d, 0);
        });
    }
}
