//! The shape, parameter and MAC rules of the catalog's ops.

use super::{Attrs, OpError, Padding};
use crate::diag::codes as c;
use crate::shape::{Dim, DimError, Shape};

pub(super) type ShapeRule = Result<Vec<Shape>, OpError>;

pub(super) fn first(i: &[Shape]) -> Result<&Shape, OpError> {
    i.first().ok_or_else(|| OpError::new(c::MissingArg, "missing tensor input"))
}

pub(super) fn same(i: &[Shape], _: &Attrs) -> ShapeRule {
    Ok(vec![first(i)?.clone()])
}

pub(super) fn no_params(_: &[Shape], _: &Attrs) -> Result<Dim, DimError> {
    Ok(Dim::zero())
}

pub(super) fn no_macs(_: &[Shape], _: &Attrs, _: &[Shape]) -> Result<Dim, DimError> {
    Ok(Dim::zero())
}

/// Arguments that must be positive when known.
pub(super) fn positive(a: &Attrs, names: &[&str]) -> Result<(), OpError> {
    for n in names {
        if let Some(d) = a.pair(n).iter().find(|d| d.is_nonpositive()) {
            return Err(OpError::new(c::BadArgValue, format!("`{n}` must be positive, found {d}")));
        }
    }
    Ok(())
}

pub(super) fn exact_div(d: &Dim, by: &Dim, what: &str) -> Result<Dim, OpError> {
    let q = d.div(by)?;
    if q.is_fractional() {
        return Err(OpError::new(c::InexactDiv, format!("{what} {d} is not divisible by {by}")));
    }
    Ok(q)
}

pub(super) fn need_rank(s: &Shape, rank: usize, op: &str, layout: &str) -> Result<(), OpError> {
    if s.rank() != rank {
        return Err(OpError::new(c::Rank, format!("`{op}` expects a rank-{rank} input {layout}, found rank {} {s}", s.rank())).on_input(0));
    }
    Ok(())
}

pub(super) fn need_min_rank(s: &Shape, rank: usize, op: &str) -> Result<(), OpError> {
    if s.rank() < rank {
        return Err(OpError::new(c::Rank, format!("`{op}` expects rank {rank} or more, found rank {} {s}", s.rank())).on_input(0));
    }
    Ok(())
}

/// A concrete axis index, negative counting from the end.
pub(super) fn axis(a: &Attrs, name: &str, rank: usize) -> Result<usize, OpError> {
    axis_value(&a.dim(name), name, rank)
}

pub(super) fn axis_value(d: &Dim, name: &str, rank: usize) -> Result<usize, OpError> {
    if !d.is_concrete() {
        return Err(OpError::new(c::BadArgValue, format!("`{name}` must be a known integer")));
    }
    super::normalize_axis(d, rank).ok_or_else(|| {
        OpError::new(c::Axis, format!("axis {d} is out of range for rank {rank}")).hint(format!("axes run from 0 to {} (or -{rank} to -1)", rank as i64 - 1))
    })
}

pub(super) fn last(s: &Shape) -> Dim {
    s.last().cloned().unwrap_or_else(Dim::one)
}

pub(super) fn bias(a: &Attrs, n: &Dim) -> Dim {
    if a.bool("bias") { n.clone() } else { Dim::zero() }
}

// ---- dense -------------------------------------------------------------------------------

pub(super) fn dense_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    need_min_rank(x, 1, "dense")?;
    positive(a, &["features"])?;
    let mut out = x.clone();
    out.0.pop();
    out.0.push(a.dim("features"));
    Ok(vec![out])
}

pub(super) fn dense_params(i: &[Shape], a: &Attrs) -> Result<Dim, DimError> {
    let f = a.dim("features");
    last(&i[0]).mul(&f)?.add(&bias(a, &f))
}

pub(super) fn dense_macs(i: &[Shape], a: &Attrs, _: &[Shape]) -> Result<Dim, DimError> {
    i[0].numel()?.mul(&a.dim("features"))
}

// ---- conv --------------------------------------------------------------------------------

pub(super) const NHWC: &str = "[B, H, W, C]";

pub(super) fn conv_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    need_rank(x, 4, "conv", NHWC)?;
    positive(a, &["features", "kernel", "stride", "dilation", "groups"])?;
    let g = a.dim("groups");
    exact_div(&x.0[3], &g, "input channels").map_err(|e| e.hint("`groups` must divide the input channels"))?;
    exact_div(&a.dim("features"), &g, "features").map_err(|e| e.hint("`groups` must divide `features`"))?;
    let (h, w) = spatial_out(x, a, &a.pair("kernel"), &a.pair("dilation"))?;
    Ok(vec![Shape(vec![x.0[0].clone(), h, w, a.dim("features")])])
}

/// Output height and width of a sliding window on `[B, H, W, C]`.
pub(super) fn spatial_out(x: &Shape, a: &Attrs, kernel: &[Dim; 2], dilation: &[Dim; 2]) -> Result<(Dim, Dim), OpError> {
    let (stride, padding, ceil) = (a.pair("stride"), a.padding(), a.bool("ceil_mode"));
    let dim = |axis: usize, what: &str| -> Result<Dim, OpError> {
        let n = &x.0[1 + axis];
        let (k, s, d) = (&kernel[axis], &stride[axis], &dilation[axis]);
        let known = padding.amounts(axis).is_none_or(|(b, a)| b.is_concrete() && a.is_concrete());
        match (n.as_int(), k.as_int(), s.as_int(), d.as_int()) {
            (Some(n), Some(k), Some(s), Some(d)) if known => match super::window_with(n, k, s, d, &padding, axis, ceil) {
                Ok(w) => Ok(Dim::int(w.out)),
                Err(why) => Err(OpError::new(c::BadArgValue, format!("{why} along the {what} ({n})")).on_input(0)),
            },
            _ if ceil => Err(OpError::new(c::BadArgValue, format!("`ceil_mode` needs a known {what}, found {n}"))
                .hint("give the input a concrete size, or leave out `ceil_mode`")),
            // SAME gives size / stride, which must then be exact.
            _ if padding == Padding::Same => exact_div(n, s, what),
            _ => {
                let out = super::symbolic_out(n, k, s, d, &padding, axis)?;
                if out.is_fractional() || out.is_nonpositive() {
                    return Err(OpError::new(c::BadArgValue, format!("padding {padding} leaves no whole output along the {what} ({n}): {out}")));
                }
                Ok(out)
            }
        }
    };
    Ok((dim(0, "height")?, dim(1, "width")?))
}

/// Weights per output channel: kh*kw*C_in/groups.
pub(super) fn conv_fan_in(i: &[Shape], a: &Attrs) -> Result<Dim, DimError> {
    let [kh, kw] = a.pair("kernel");
    kh.mul(&kw)?.mul(&last(&i[0]))?.div(&a.dim("groups"))
}

pub(super) fn conv_params(i: &[Shape], a: &Attrs) -> Result<Dim, DimError> {
    let f = a.dim("features");
    conv_fan_in(i, a)?.mul(&f)?.add(&bias(a, &f))
}

pub(super) fn conv_macs(i: &[Shape], a: &Attrs, o: &[Shape]) -> Result<Dim, DimError> {
    o[0].numel()?.mul(&conv_fan_in(i, a)?)
}

// ---- normalisation, regularisation ----------------------------------------------------------

pub(super) fn norm_params(i: &[Shape], _: &Attrs) -> Result<Dim, DimError> {
    Dim::int(2).mul(&last(&i[0]))
}

/// A norm's `eps` (positive) and `momentum` (in [0, 1], batch norm only). NaN: a float
/// parameter of a block checked generically, known only at each call.
pub(super) fn norm_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let eps = a.float("eps");
    if a.get("eps").is_some() && !eps.is_nan() && !(eps > 0.0 && eps.is_finite()) {
        return Err(OpError::new(c::BadArgValue, format!("`eps` must be a positive number, found {eps}")).hint("PyTorch's default is 1e-5"));
    }
    if a.get("momentum").is_some() {
        let m = a.float("momentum");
        if !m.is_nan() && !(0.0..=1.0).contains(&m) {
            return Err(OpError::new(c::BadArgValue, format!("`momentum` must be in [0, 1], found {m}")).hint("PyTorch's default is 0.1"));
        }
    }
    same(i, a)
}

pub(super) fn group_norm_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    norm_shape(i, a)?;
    positive(a, &["groups"])?;
    exact_div(&last(x), &a.dim("groups"), "channels").map_err(|e| e.hint("`groups` must divide the channels"))?;
    Ok(vec![x.clone()])
}

pub(super) fn dropout_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    rate_in_range(a, "dropout")?;
    same(i, a)
}

pub(super) fn drop_path_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    rate_in_range(a, "drop_path")?;
    same(i, a)
}

pub(super) fn rate_in_range(a: &Attrs, op: &str) -> Result<(), OpError> {
    // NaN: a float parameter of a block checked generically, known only at each call.
    let r = a.float("rate");
    if !r.is_nan() && !(0.0..1.0).contains(&r) {
        return Err(OpError::new(c::BadArgValue, format!("{op} rate must be in [0, 1), found {r}")));
    }
    Ok(())
}

pub(super) fn clamp_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let (lo, hi) = (a.float("min"), a.float("max"));
    // NaN: unknown until the call (see `rate_in_range`); `lo > hi` is false then.
    if lo > hi {
        return Err(OpError::new(c::BadArgValue, format!("clamp needs min <= max, found min {lo} and max {hi}")));
    }
    same(i, a)
}

pub(super) fn softmax_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    axis(a, "axis", x.rank())?;
    Ok(vec![x.clone()])
}

// ---- pooling -------------------------------------------------------------------------------

pub(super) fn pool_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    need_rank(x, 4, "pool", NHWC)?;
    positive(a, &["window", "stride"])?;
    let (h, w) = spatial_out(x, a, &a.pair("window"), &[Dim::one(), Dim::one()])?;
    Ok(vec![Shape(vec![x.0[0].clone(), h, w, x.0[3].clone()])])
}

pub(super) fn axes(a: &Attrs, name: &str, rank: usize) -> Result<Vec<usize>, OpError> {
    let mut out = Vec::new();
    for d in a.dims(name) {
        let k = axis_value(d, name, rank)?;
        if out.contains(&k) {
            return Err(OpError::new(c::Axis, format!("axis {d} is listed twice")));
        }
        out.push(k);
    }
    Ok(out)
}

pub(super) fn mean_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    let ax = axes(a, "axes", x.rank())?;
    if ax.is_empty() {
        return Err(OpError::new(c::BadArgValue, "`mean` needs at least one axis"));
    }
    let keep = a.bool("keepdims");
    let dims = x.0.iter().enumerate().filter_map(|(k, d)| match (ax.contains(&k), keep) {
        (false, _) => Some(d.clone()),
        (true, true) => Some(Dim::one()),
        (true, false) => None,
    });
    Ok(vec![Shape(dims.collect())])
}

// ---- arithmetic ----------------------------------------------------------------------------

pub(super) fn broadcast_pair(a: &Shape, b: &Shape) -> Result<Shape, OpError> {
    let r = a.rank().max(b.rank());
    let one = Dim::one();
    let mut out = Vec::with_capacity(r);
    for k in 0..r {
        let da = if k + a.rank() >= r { &a.0[k + a.rank() - r] } else { &one };
        let db = if k + b.rank() >= r { &b.0[k + b.rank() - r] } else { &one };
        let d = if da == db || *db == one {
            da
        } else if *da == one {
            db
        } else {
            return Err(OpError::new(c::ShapeMismatch, format!("shapes {a} and {b} do not match: {da} vs {db}"))
                .hint("element-wise ops need equal dims (or 1, which broadcasts)"));
        };
        out.push(d.clone());
    }
    Ok(Shape(out))
}

pub(super) fn binary_shape(i: &[Shape], _: &Attrs) -> ShapeRule {
    match i {
        [a, b] => Ok(vec![broadcast_pair(a, b)?]),
        _ => Err(OpError::new(c::MissingArg, "needs two tensor inputs")),
    }
}

// ---- structure -----------------------------------------------------------------------------

pub(super) fn reshape_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    let target = a.dims("shape");
    let unknown: Vec<usize> = target.iter().enumerate().filter(|(_, d)| d.as_int() == Some(-1)).map(|(k, _)| k).collect();
    if unknown.len() > 1 {
        return Err(OpError::new(c::Reshape, "at most one dim of a reshape may be -1"));
    }
    let numel = x.numel()?;
    let mut dims = target.to_vec();
    if let Some(&k) = unknown.first() {
        let rest = dims.iter().enumerate().filter(|(j, _)| *j != k).try_fold(Dim::one(), |acc, (_, d)| acc.mul(d))?;
        dims[k] = exact_div(&numel, &rest, "element count").map_err(|e| OpError { code: c::Reshape, ..e })?;
    }
    let out = Shape(dims);
    if out.numel()? != numel {
        return Err(OpError::new(c::Reshape, format!("cannot reshape {x} ({numel} elements) into {out} ({} elements)", out.numel()?)).on_input(0));
    }
    Ok(vec![out])
}

pub(super) fn flatten_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    let start = axis(a, "start", x.rank())?;
    let tail = x.0[start..].iter().try_fold(Dim::one(), |acc, d| acc.mul(d))?;
    let mut dims = x.0[..start].to_vec();
    dims.push(tail);
    Ok(vec![Shape(dims)])
}

pub(super) fn transpose_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    let perm = axes(a, "perm", x.rank())?;
    if perm.len() != x.rank() {
        return Err(OpError::new(c::Axis, format!("`perm` must list all {} axes of {x}, found {}", x.rank(), perm.len())));
    }
    Ok(vec![Shape(perm.iter().map(|&k| x.0[k].clone()).collect())])
}

pub(super) fn concat_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    let ax = axis(a, "axis", x.rank())?;
    let mut total = Dim::zero();
    for (k, s) in i.iter().enumerate() {
        if s.rank() != x.rank() {
            return Err(OpError::new(c::Rank, format!("concat inputs must have equal rank: {x} and {s}")).on_input(k));
        }
        for (j, (d0, d)) in x.0.iter().zip(&s.0).enumerate() {
            if j != ax && d0 != d {
                return Err(OpError::new(c::ShapeMismatch, format!("concat inputs differ off the concat axis: {x} and {s} at axis {j}")).on_input(k));
            }
        }
        total = total.add(&s.0[ax])?;
    }
    let mut out = x.clone();
    out.0[ax] = total;
    Ok(vec![out])
}

pub(super) fn split_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    let ax = axis(a, "axis", x.rank())?;
    let sizes = a.dims("sizes");
    match (a.int("parts"), sizes.is_empty()) {
        (Some(0), false) => return split_sizes_shape(x, ax, sizes),
        (Some(p), false) if p > 0 => {
            return Err(OpError::new(c::BadArgValue, "give `split` either `parts` or `sizes`, not both"));
        }
        (Some(0), true) => return Err(OpError::new(c::MissingArg, "`split` needs `parts` (equal pieces) or `sizes` (a list)")),
        _ => {}
    }
    positive(a, &["parts"])?;
    let Some(parts) = a.int("parts") else {
        return Err(OpError::new(c::BadArgValue, "`parts` must be a known integer"));
    };
    if parts > 64 {
        return Err(OpError::new(c::BadArgValue, format!("`parts` is at most 64, found {parts}")));
    }
    let mut piece = x.clone();
    piece.0[ax] = exact_div(&x.0[ax], &Dim::int(parts), "split dim")?;
    Ok(vec![piece; parts as usize])
}

/// `split(sizes: [a, b, ..])`: pieces of the given sizes, which must add up to the dim.
pub(super) fn split_sizes_shape(x: &Shape, ax: usize, sizes: &[Dim]) -> ShapeRule {
    if sizes.len() > 64 {
        return Err(OpError::new(c::BadArgValue, format!("`split` makes at most 64 pieces, found {}", sizes.len())));
    }
    let mut total = Dim::zero();
    for s in sizes {
        if s.is_nonpositive() {
            return Err(OpError::new(c::BadArgValue, format!("split sizes must be positive, found {s}")));
        }
        total = total.add(s)?;
    }
    if total != x.0[ax] {
        return Err(OpError::new(c::ShapeMismatch, format!("split sizes add up to {total}, but axis {ax} of {x} has {}", x.0[ax])).on_input(0));
    }
    Ok(sizes
        .iter()
        .map(|s| {
            let mut piece = x.clone();
            piece.0[ax] = s.clone();
            piece
        })
        .collect())
}

/// The size of axis `ax` of `x`, which must be a number.
pub(super) fn concrete_axis(x: &Shape, ax: usize, op: &str) -> Result<i64, OpError> {
    x.0[ax].as_int().ok_or_else(|| OpError::new(c::BadArgValue, format!("`{op}` needs a known size along axis {ax}, found {}", x.0[ax])).on_input(0))
}

/// `slice(axis, start, end, step)`: start and end count from the end when negative.
pub(super) fn slice_bounds(x: &Shape, a: &Attrs) -> Result<(usize, i64, i64, i64), OpError> {
    let ax = axis(a, "axis", x.rank())?;
    let n = concrete_axis(x, ax, "slice")?;
    let known = |name: &str| a.int(name).ok_or_else(|| OpError::new(c::BadArgValue, format!("`{name}` must be a known integer")));
    let (start, end, step) = (known("start")?, known("end")?, known("step")?);
    let from_end = |v: i64| if v < 0 { v.saturating_add(n) } else { v };
    let (s, e) = (from_end(start), from_end(end));
    if step < 1 {
        return Err(OpError::new(c::BadArgValue, format!("`step` must be positive, found {step}")));
    }
    if !(0 <= s && s < e && e <= n) {
        return Err(OpError::new(c::Axis, format!("slice {start}..{end} is empty or outside axis {ax} of size {n}"))
            .hint("start and end run from 0 to the size (or -size to -1), start before end"));
    }
    Ok((ax, s, e, step))
}

pub(super) fn slice_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    let ax = axis(a, "axis", x.rank())?;
    let concrete = ["start", "end", "step"].iter().all(|n| a.int(n).is_some());
    let mut out = x.clone();
    out.0[ax] = if x.0[ax].is_concrete() && concrete {
        let (_, s, e, step) = slice_bounds(x, a)?;
        Dim::int((e - s + step - 1) / step)
    } else {
        symbolic_slice(&x.0[ax], a, ax)?
    };
    Ok(vec![out])
}

/// A slice's length along an axis of symbolic size `n`, or with symbolic bounds (a block
/// checked generically; every call checks its concrete sizes again). Known negative bounds
/// count from the end; a symbolic bound counts from the start. With a step, the size is taken
/// to be divisible by it, as `H / 2` is.
fn symbolic_slice(n: &Dim, a: &Attrs, ax: usize) -> Result<Dim, OpError> {
    let step = a.dim("step");
    if step.is_nonpositive() {
        return Err(OpError::new(c::BadArgValue, format!("`step` must be positive, found {step}")));
    }
    let from_end = |name: &str| -> Result<Dim, OpError> {
        let v = a.dim(name);
        Ok(if v.as_int().is_some_and(|v| v < 0) { n.add(&v)? } else { v })
    };
    let len = from_end("end")?.sub(&from_end("start")?)?;
    if len.is_nonpositive() {
        return Err(OpError::new(c::Axis, format!("slice {}..{} is empty along axis {ax} of size {n}", a.dim("start"), a.dim("end")))
            .hint("start and end run from 0 to the size (or -size to -1), start before end"));
    }
    // ceil(len / step) = floor((len - 1) / step) + 1, the window rule with kernel 1.
    Ok(super::symbolic_out(&len, &Dim::one(), &step, &Dim::one(), &Padding::Valid, 0)?)
}

pub(super) fn roll_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    axis(a, "axis", x.rank())?;
    if a.int("shift").is_none() {
        return Err(OpError::new(c::BadArgValue, "`shift` must be a known integer"));
    }
    Ok(vec![x.clone()])
}

pub(super) fn gather_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    let ax = axis(a, "axis", x.rank())?;
    let n = concrete_axis(x, ax, "gather")?;
    let indices = a.dims("indices");
    if indices.is_empty() {
        return Err(OpError::new(c::BadArgValue, "`indices` must list at least one position"));
    }
    if let Some(bad) = indices.iter().find(|d| d.as_int().is_none_or(|k| k < 0 || k >= n)) {
        return Err(OpError::new(c::Axis, format!("index {bad} is out of range for axis {ax} of size {n}")));
    }
    let mut out = x.clone();
    out.0[ax] = Dim::int(indices.len() as i64);
    Ok(vec![out])
}

pub(super) fn matmul_shape(i: &[Shape], _: &Attrs) -> ShapeRule {
    let [a, b] = i else { return Err(OpError::new(c::MissingArg, "needs two tensor inputs")) };
    for (k, s) in [a, b].iter().enumerate() {
        if s.rank() < 2 {
            return Err(OpError::new(c::Rank, format!("matmul inputs need rank 2 or more, found {s}")).on_input(k));
        }
    }
    let (ra, rb) = (a.rank(), b.rank());
    let (ka, kb) = (&a.0[ra - 1], &b.0[rb - 2]);
    if ka != kb {
        return Err(OpError::new(c::ShapeMismatch, format!("matmul of {a} and {b}: inner dims {ka} and {kb} differ"))
            .hint("the last dim of the left input must equal the second-to-last dim of the right input"));
    }
    let batch = broadcast_pair(&Shape(a.0[..ra - 2].to_vec()), &Shape(b.0[..rb - 2].to_vec()))?;
    let mut out = batch.0;
    out.push(a.0[ra - 2].clone());
    out.push(b.0[rb - 1].clone());
    Ok(vec![Shape(out)])
}

pub(super) fn matmul_macs(i: &[Shape], _: &Attrs, o: &[Shape]) -> Result<Dim, DimError> {
    o[0].numel()?.mul(&last(&i[0]))
}

/// `"bnhd,bmhd->bhnm"` → operand index letters and output letters.
pub(super) fn parse_einsum(spec: &str) -> Result<(Vec<Vec<char>>, Vec<char>), OpError> {
    let bad = |m: &str| OpError::new(c::BadArgValue, format!("bad einsum spec {spec:?}: {m}"));
    let (lhs, out) = spec.split_once("->").ok_or_else(|| bad("expected `->`"))?;
    let ops: Vec<Vec<char>> = lhs.split(',').map(|s| s.trim().chars().collect()).collect();
    let out: Vec<char> = out.trim().chars().collect();
    if ops.len() != 2 {
        return Err(bad("expected two operands"));
    }
    if ops.iter().chain([&out]).flatten().any(|ch| !ch.is_ascii_lowercase()) {
        return Err(bad("index letters must be a-z"));
    }
    for (k, ch) in out.iter().enumerate() {
        if out[..k].contains(ch) || !ops.iter().any(|o| o.contains(ch)) {
            return Err(bad(&format!("output index `{ch}` must appear once in the output and in an operand")));
        }
    }
    Ok((ops, out))
}

/// Sizes of every index letter, checked for consistency.
pub(super) fn einsum_sizes(i: &[Shape], spec: &str) -> Result<(Vec<(char, Dim)>, Vec<char>), OpError> {
    let (ops, out) = parse_einsum(spec)?;
    let mut sizes: Vec<(char, Dim)> = Vec::new();
    for (k, (letters, s)) in ops.iter().zip(i).enumerate() {
        if letters.len() != s.rank() {
            return Err(OpError::new(c::Rank, format!("einsum operand {k} has {} indices but shape {s}", letters.len())).on_input(k));
        }
        for (ch, d) in letters.iter().zip(&s.0) {
            match sizes.iter().find(|(c2, _)| c2 == ch) {
                Some((_, d0)) if d0 != d => {
                    return Err(OpError::new(c::ShapeMismatch, format!("einsum index `{ch}` is {d0} in one operand and {d} in another")));
                }
                Some(_) => {}
                None => sizes.push((*ch, d.clone())),
            }
        }
    }
    Ok((sizes, out))
}

pub(super) fn einsum_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let (sizes, out) = einsum_sizes(i, a.str("spec"))?;
    let dims = out.iter().filter_map(|ch| sizes.iter().find(|(c2, _)| c2 == ch).map(|(_, d)| d.clone()));
    Ok(vec![Shape(dims.collect())])
}

pub(super) fn einsum_macs(i: &[Shape], a: &Attrs, _: &[Shape]) -> Result<Dim, DimError> {
    match einsum_sizes(i, a.str("spec")) {
        Ok((sizes, _)) => sizes.iter().try_fold(Dim::one(), |acc, (_, d)| acc.mul(d)),
        Err(_) => Ok(Dim::zero()),
    }
}

pub(super) fn param_shape(_: &[Shape], a: &Attrs) -> ShapeRule {
    let s = Shape(a.dims("shape").to_vec());
    if let Some(d) = s.0.iter().find(|d| d.is_nonpositive()) {
        return Err(OpError::new(c::BadArgValue, format!("param dims must be positive, found {d} in {s}")));
    }
    Ok(vec![s])
}

pub(super) fn param_params(_: &[Shape], a: &Attrs) -> Result<Dim, DimError> {
    Shape(a.dims("shape").to_vec()).numel()
}

pub(super) fn broadcast_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    let target = Shape(a.dims("shape").to_vec());
    let ok = x.rank() <= target.rank() && x.0.iter().rev().zip(target.0.iter().rev()).all(|(d, t)| d == t || *d == Dim::one());
    if !ok {
        return Err(OpError::new(c::ShapeMismatch, format!("cannot broadcast {x} to {target}")).on_input(0).hint("each dim must equal the target's or be 1"));
    }
    Ok(vec![target])
}

pub(super) fn select_shape(i: &[Shape], a: &Attrs) -> ShapeRule {
    let x = first(i)?;
    let ax = axis(a, "axis", x.rank())?;
    let idx = a.dim("index");
    if let (Some(k), Some(n)) = (idx.as_int(), x.0[ax].as_int())
        && (k < 0 || k >= n)
    {
        return Err(OpError::new(c::Axis, format!("index {k} is out of range for a dim of size {n}")));
    }
    let mut out = x.clone();
    out.0.remove(ax);
    Ok(vec![out])
}
