//! Sliding windows (conv, pooling): padding modes and the output size and padding along one
//! spatial dim. The one place these are computed: shape rules, mixing and lowerings call it.

use crate::shape::{Dim, DimError};
use std::fmt;

/// How a conv or pool pads its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Padding {
    /// TensorFlow's SAME: the output has ceil(size / stride) positions, the padding split evenly
    /// with the odd one after (torchvision's `padding = k // 2` gives the same sizes).
    Same,
    /// No padding: only windows that fit.
    Valid,
    /// Explicit amounts, as torchvision writes them: top, bottom, left, right. Symbolic inside a
    /// block checked generically (`padding: p`); known at every call.
    Explicit { top: Dim, bottom: Dim, left: Dim, right: Dim },
}

impl Padding {
    /// The same amount on every side.
    pub fn uniform(p: i64) -> Padding {
        Padding::Explicit { top: Dim::int(p), bottom: Dim::int(p), left: Dim::int(p), right: Dim::int(p) }
    }

    /// The padding before and after along spatial axis `axis` (0 height, 1 width), when not SAME.
    pub fn amounts(&self, axis: usize) -> Option<(Dim, Dim)> {
        match self {
            Padding::Explicit { top, bottom, .. } if axis == 0 => Some((top.clone(), bottom.clone())),
            Padding::Explicit { left, right, .. } => Some((left.clone(), right.clone())),
            Padding::Same => None,
            Padding::Valid => Some((Dim::zero(), Dim::zero())),
        }
    }

    /// [`Padding::amounts`] as numbers; `Err` when an amount is symbolic.
    fn known(&self, axis: usize) -> Result<Option<(i64, i64)>, String> {
        match self.amounts(axis) {
            None => Ok(None),
            Some((b, a)) => match (b.as_int(), a.as_int()) {
                (Some(b), Some(a)) => Ok(Some((b, a))),
                _ => Err(format!("padding {self} is not known")),
            },
        }
    }
}

impl fmt::Display for Padding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Padding::Same => write!(f, "same"),
            Padding::Valid => write!(f, "valid"),
            Padding::Explicit { top, bottom, left, right } => write!(f, "[{top}, {bottom}, {left}, {right}]"),
        }
    }
}

/// One spatial dim of a sliding window: padding before and after, and the output size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub before: i64,
    pub after: i64,
    pub out: i64,
}

/// The window along spatial axis `axis` (0 height, 1 width) of an input of size `n`. `Err`
/// says why there is none (the window does not fit in the padded input).
pub fn window(n: i64, kernel: i64, stride: i64, dilation: i64, padding: &Padding, axis: usize) -> Result<Window, String> {
    window_with(n, kernel, stride, dilation, padding, axis, false)
}

/// [`window`], optionally in PyTorch's ceil mode (pooling's `ceil_mode=True`): the output size
/// rounds up, so a last, partial window is kept when it starts inside the input or its
/// leading padding; the padding after grows to cover it.
pub fn window_with(n: i64, kernel: i64, stride: i64, dilation: i64, padding: &Padding, axis: usize, ceil: bool) -> Result<Window, String> {
    // i128: kernel and dilation are user numbers and their product may not fit in i64.
    let (n, k, s, d) = (i128::from(n), i128::from(kernel), i128::from(stride), i128::from(dilation));
    let reach = (k - 1) * d + 1;
    let (before, after) = match padding.known(axis)? {
        Some((b, a)) => (i128::from(b), i128::from(a)),
        None => {
            let out = (n + s - 1) / s;
            let total = ((out - 1) * s + reach - n).max(0);
            (total / 2, total - total / 2)
        }
    };
    let padded = n + before + after;
    if padded < reach {
        return Err(format!("the window spans {reach} positions but the padded input has {padded}"));
    }
    let fit = |v: i128| i64::try_from(v).map_err(|_| "the window is too large".to_string());
    let mut out = (padded - reach) / s + 1;
    let mut after = after;
    if ceil {
        out = (padded - reach + s - 1) / s + 1;
        if (out - 1) * s >= n + before {
            out -= 1;
        }
        after = after.max((out - 1) * s + reach - n - before);
    }
    Ok(Window { before: fit(before)?, after: fit(after)?, out: fit(out)? })
}

/// The output size along spatial axis `axis` when the size, a window argument or a padding
/// amount is symbolic (a block checked generically). Like `H / 2` under SAME padding, a symbolic
/// size is taken to be divisible by the stride: `(H + 2 − 3) / 2 + 1` floors to `H / 2` then.
/// Each call checks its concrete sizes again with [`window_with`], which floors as PyTorch does,
/// so a block declared `-> [B, H / 2, ..]` is an error at a call with an odd `H`.
pub fn symbolic_out(n: &Dim, kernel: &Dim, stride: &Dim, dilation: &Dim, padding: &Padding, axis: usize) -> Result<Dim, DimError> {
    let Some((before, after)) = padding.amounts(axis) else { return n.div(stride) };
    let reach = kernel.sub(&Dim::one())?.mul(dilation)?.add(&Dim::one())?;
    // The output is floor((n + c) / stride) + 1. With c = rest + k (k its constant) and the
    // stride dividing n and rest (`padding: p` gives rest = 2*p on a 3×3 stride-2 conv, which
    // 2 divides), that is n / stride + rest / stride + floor(k / stride) + 1. A symbolic stride
    // (at least 1) fixes floor(k / stride) only for k = 0 and k = -1; -1 is every odd k×k
    // window padded by k // 2, torchvision's choice.
    let c = before.add(&after)?.sub(&reach)?;
    let (k, rest) = c.split_constant();
    let rest_over = rest.div(stride)?;
    let k = k.is_integer().then(|| k.numer());
    let floor_k = match (k, stride.as_int()) {
        (Some(k), Some(s)) if s > 0 => Some(k.div_euclid(i128::from(s))),
        (Some(k @ (0 | -1)), None) => Some(k),
        _ => None,
    };
    match (floor_k, stride.as_int()) {
        (_, Some(1)) => n.add(&c)?.add(&Dim::one()),
        (Some(f), _) if rest_over.has_integer_coefficients() => {
            let f = i64::try_from(f + 1).map_err(|_| DimError::Overflow)?;
            n.div(stride)?.add(&rest_over)?.add(&Dim::int(f))
        }
        _ => n.add(&c)?.div(stride)?.add(&Dim::one()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(n: i64, k: i64, s: i64, p: Padding) -> (i64, i64, i64) {
        let w = window(n, k, s, 1, &p, 0).expect("fits");
        (w.before, w.after, w.out)
    }

    #[test]
    fn same_valid_and_explicit_match_torchvision_sizes() {
        // A stride-2 3×3 conv on 7×7 gives 4×4, as torchvision's padding=1 does.
        assert_eq!(w(7, 3, 2, Padding::Same), (1, 1, 4));
        assert_eq!(w(224, 7, 2, Padding::Same), (2, 3, 112));
        assert_eq!(w(224, 7, 2, Padding::uniform(3)), (3, 3, 112));
        assert_eq!(w(112, 3, 2, Padding::uniform(1)), (1, 1, 56));
        assert_eq!(w(8, 3, 1, Padding::Valid), (0, 0, 6));
        assert_eq!(w(7, 2, 2, Padding::Valid), (0, 0, 3));
        assert!(window(2, 5, 1, 1, &Padding::Valid, 0).is_err());
        // Ceil mode, as torch.nn.MaxPool2d(3, 2, ceil_mode=True): 6 → 3 (floor gives 2), and
        // with padding 1 the last window must still start inside: 5 → 3.
        let ceil = |n: i64, p: Padding| window_with(n, 3, 2, 1, &p, 0, true).map(|w| (w.before, w.after, w.out)).expect("fits");
        assert_eq!(ceil(6, Padding::Valid), (0, 1, 3));
        assert_eq!(ceil(5, Padding::uniform(1)), (1, 1, 3));
        assert_eq!(ceil(112, Padding::Valid), (0, 1, 56));
        assert!(window(5, i64::MAX, 1, i64::MAX, &Padding::Same, 0).is_err());
    }

    #[test]
    fn symbolic_sizes_give_the_output_pytorch_floors_to_on_divisible_sizes() {
        let (h, int) = (Dim::sym("H"), Dim::int);
        let out = |k: i64, s: i64, p: &Padding| symbolic_out(&h, &int(k), &int(s), &int(1), p, 0).expect("representable").to_string();
        assert_eq!(out(3, 1, &Padding::uniform(1)), "H");
        assert_eq!(out(3, 2, &Padding::uniform(1)), "H/2");
        assert_eq!(out(1, 2, &Padding::Valid), "H/2");
        assert_eq!(out(3, 1, &Padding::Valid), "H - 2");
        assert_eq!(out(7, 2, &Padding::uniform(3)), "H/2");
        assert_eq!(out(3, 2, &Padding::Same), "H/2");
        // A padding from a block parameter.
        let p = Dim::sym("p");
        let pad = Padding::Explicit { top: p.clone(), bottom: p.clone(), left: p.clone(), right: p };
        assert_eq!(symbolic_out(&h, &int(3), &int(1), &int(1), &pad, 1).expect("representable").to_string(), "H + 2*p - 2");
        // Stride 2: floor((H + 2p - 3) / 2) + 1 = H/2 + p - 1 on even H.
        assert_eq!(symbolic_out(&h, &int(3), &int(2), &int(1), &pad, 1).expect("representable").to_string(), "H/2 + p - 1");
        // A stride from a block parameter, with torchvision's k // 2 padding: H / s.
        let s = Dim::sym("s");
        for (k, p) in [(3, 1), (1, 0), (7, 3)] {
            assert_eq!(symbolic_out(&h, &int(k), &s, &int(1), &Padding::uniform(p), 0).expect("representable").to_string(), "H/s");
        }
        // A kernel from a block parameter padded by (k - 1) / 2.
        let (kk, half) = (Dim::sym("k"), Dim::sym("k").sub(&int(1)).and_then(|d| d.div(&int(2))).expect("representable"));
        let pad = Padding::Explicit { top: half.clone(), bottom: half.clone(), left: half.clone(), right: half };
        assert_eq!(symbolic_out(&h, &kk, &s, &int(1), &pad, 0).expect("representable").to_string(), "H/s");
        // Every concrete even size agrees with the concrete rule.
        for n in (4..40).step_by(2) {
            for (k, s, p) in [(3, 2, 1), (1, 2, 0), (7, 2, 3), (3, 1, 1), (5, 2, 2), (3, 2, 0)] {
                let concrete = window(n, k, s, 1, &Padding::uniform(p), 0).expect("fits").out;
                let symbolic = symbolic_out(&h, &int(k), &int(s), &int(1), &Padding::uniform(p), 0).expect("representable");
                let at_n = symbolic.substitute(&|_| Some(int(n))).expect("substitutes");
                assert_eq!(at_n.as_int(), Some(concrete), "n {n}, kernel {k}, stride {s}, padding {p}");
            }
        }
    }
}
