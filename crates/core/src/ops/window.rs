//! Sliding windows (conv, pooling): padding modes and the output size and padding along one
//! spatial dim. The one place these are computed: shape rules, mixing and lowerings call it.

use std::fmt;

/// How a conv or pool pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// TensorFlow's SAME: the output has ceil(size / stride) positions, the padding split evenly
    /// with the odd one after (torchvision's `padding = k // 2` gives the same sizes).
    Same,
    /// No padding: only windows that fit.
    Valid,
    /// Explicit amounts, as torchvision writes them: top, bottom, left, right.
    Explicit { top: i64, bottom: i64, left: i64, right: i64 },
}

impl Padding {
    /// The padding before and after along spatial axis `axis` (0 height, 1 width), when explicit.
    fn explicit(&self, axis: usize) -> Option<(i64, i64)> {
        match *self {
            Padding::Explicit { top, bottom, .. } if axis == 0 => Some((top, bottom)),
            Padding::Explicit { left, right, .. } => Some((left, right)),
            Padding::Same => None,
            Padding::Valid => Some((0, 0)),
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
    let (before, after) = match padding.explicit(axis) {
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
        assert_eq!(w(224, 7, 2, Padding::Explicit { top: 3, bottom: 3, left: 3, right: 3 }), (3, 3, 112));
        assert_eq!(w(112, 3, 2, Padding::Explicit { top: 1, bottom: 1, left: 1, right: 1 }), (1, 1, 56));
        assert_eq!(w(8, 3, 1, Padding::Valid), (0, 0, 6));
        assert_eq!(w(7, 2, 2, Padding::Valid), (0, 0, 3));
        assert!(window(2, 5, 1, 1, &Padding::Valid, 0).is_err());
        // Ceil mode, as torch.nn.MaxPool2d(3, 2, ceil_mode=True): 6 → 3 (floor gives 2), and
        // with padding 1 the last window must still start inside: 5 → 3.
        let ceil = |n: i64, p: Padding| window_with(n, 3, 2, 1, &p, 0, true).map(|w| (w.before, w.after, w.out)).expect("fits");
        assert_eq!(ceil(6, Padding::Valid), (0, 1, 3));
        assert_eq!(ceil(5, Padding::Explicit { top: 1, bottom: 1, left: 1, right: 1 }), (1, 1, 3));
        assert_eq!(ceil(112, Padding::Valid), (0, 1, 56));
        assert!(window(5, i64::MAX, 1, i64::MAX, &Padding::Same, 0).is_err());
    }
}
