//! Element-wise activations, and transcendental functions on four floats at once in plain
//! arithmetic (no libm call): the compiled code needs nothing at link time.

use super::*;

impl FnBuilder<'_> {
    /// `y[i] = f(x[i])` over a whole tensor, four at a time.
    pub(super) fn map_flat(&mut self, x: &View, y: &View, f: impl Fn(&mut Self, Value) -> Value) {
        let (xb, yb) = (self.base(x), self.base(y));
        let n = y.len().div_ceil(4);
        self.for_n(n, |k, i| {
            let (xa, ya) = (k.at_scaled(xb, i, 4), k.at_scaled(yb, i, 4));
            let v = k.ldv(xa, 0);
            let r = f(k, v);
            k.st(r, ya, 0);
        });
    }

    pub(super) fn act(&mut self, x: &View, y: &View, a: Act) {
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
}

/// Transcendental functions on four floats at once, in plain arithmetic (no libm call): the
/// compiled code needs nothing at link time.
impl FnBuilder<'_> {
    pub(super) fn vc(&mut self, v: f32) -> Value {
        self.vconst(v)
    }

    /// e^x: x = n·ln 2 + r with |r| ≤ ln2/2 (ln 2 in two parts), e^r by its degree-6 Taylor
    /// polynomial (relative error below 2e-7), 2^n built in the exponent bits; x clamped to
    /// [−87.3, 88.3] (0 and f32's largest powers of two beyond).
    pub(super) fn vexp(&mut self, x: Value) -> Value {
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
    pub(super) fn vselect(&mut self, mask: Value, a: Value, b: Value) -> Value {
        let m = self.b.ins().bitcast(F32X4, lanes(), mask);
        self.b.ins().bitselect(m, a, b)
    }

    /// 1 / (1 + e^−x).
    pub(super) fn vsigmoid(&mut self, x: Value) -> Value {
        let n = self.b.ins().fneg(x);
        let e = self.vexp(n);
        let one = self.vc(1.0);
        let d = self.b.ins().fadd(one, e);
        self.b.ins().fdiv(one, d)
    }

    /// tanh: its odd Taylor polynomial to x⁹ below |x| = 0.25 (error under 3e-9), else
    /// sign(x)·(1 − e)/(1 + e) with e = e^−2|x| (no cancellation that far out).
    pub(super) fn vtanh(&mut self, x: Value) -> Value {
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
    pub(super) fn vgelu(&mut self, x: Value) -> Value {
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
    pub(super) fn exp1(&mut self, x: Value) -> Value {
        let v = self.b.ins().splat(F32X4, x);
        let e = self.vexp(v);
        self.b.ins().extractlane(e, 0)
    }
}
