//! The concrete oracle for mixing (paper §3.1): an independent, index-level evaluation of what
//! every output element of each op reads (the non-zero pattern of the Jacobian for generic
//! weights), from which the concrete mixing matrix is read off exactly as the paper defines it:
//! the centre slice along each output dim for pairing, the centre element for locality.
//! The abstract matrices must never be above it. Deviation: the centre is that of the output
//! region the tracked input reaches (the whole output except after a concat, see
//! `reached_centre`). Checked for every op of the catalog in several
//! configurations, and for random synthesized chains; the equality rate is printed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test's helpers state its expectations

use nasc::ops::mixing::{Level, Mixing, op_mixing};
use nasc::ops::{AttrValue, Attrs, OpKind, Padding, spec};
use nasc::props::{Chain, ChainOp, Target};
use nasc::rng::Rng;
use nasc::shape::{Dim, Shape};
use nasc::synth::{SynthConfig, representatives, synthesize};

/// For each element of a tensor, the set of input elements it reads (a bitset).
#[derive(Clone)]
struct Deps {
    dims: Vec<usize>,
    sets: Vec<Vec<u64>>,
    words: usize,
}

impl Deps {
    fn input(dims: &[usize]) -> Deps {
        let n: usize = dims.iter().product();
        let words = n.div_ceil(64);
        let sets = (0..n).map(|e| {
            let mut s = vec![0u64; words];
            s[e / 64] |= 1 << (e % 64);
            s
        });
        Deps { dims: dims.to_vec(), sets: sets.collect(), words }
    }
    fn empty(dims: &[usize], words: usize) -> Deps {
        let n: usize = dims.iter().product();
        Deps { dims: dims.to_vec(), sets: vec![vec![0; words]; n], words }
    }
    fn index(&self, idx: &[usize]) -> usize {
        idx.iter().zip(&self.dims).fold(0, |acc, (i, d)| acc * d + i)
    }
    fn coords(dims: &[usize], mut e: usize) -> Vec<usize> {
        let mut c = vec![0; dims.len()];
        for k in (0..dims.len()).rev() {
            c[k] = e % dims[k];
            e /= dims[k];
        }
        c
    }
}

fn union(into: &mut [u64], from: &[u64]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a |= b;
    }
}

fn dims_of(s: &Shape) -> Vec<usize> {
    s.0.iter().map(|d| d.as_int().expect("concrete") as usize).collect()
}

/// Evaluate what each output element reads. `read(out_coords) -> list of (input slot, coords)`.
fn eval(out_dims: &[usize], ins: &[&Deps], read: &dyn Fn(&[usize]) -> Vec<(usize, Vec<usize>)>) -> Deps {
    let words = ins.first().map_or(1, |d| d.words);
    let mut out = Deps::empty(out_dims, words);
    for e in 0..out.sets.len() {
        let c = Deps::coords(out_dims, e);
        for (slot, ic) in read(&c) {
            let d = ins[slot];
            if ic.iter().zip(&d.dims).all(|(i, n)| i < n) {
                let src = d.sets[d.index(&ic)].clone();
                union(&mut out.sets[e], &src);
            }
        }
    }
    out
}

fn int(a: &Attrs, n: &str) -> i64 {
    a.int(n).expect("concrete attribute")
}

fn axis(a: &Attrs, n: &str, r: usize) -> usize {
    let v = int(a, n);
    if v < 0 { (v + r as i64) as usize } else { v as usize }
}

/// Right-aligned broadcast coordinates.
fn bcast(c: &[usize], dims: &[usize]) -> Vec<usize> {
    let off = c.len() - dims.len();
    dims.iter().enumerate().map(|(k, d)| if *d == 1 { 0 } else { c[off + k] }).collect()
}

/// All coordinates of `dims`.
fn all(dims: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = dims.iter().product();
    (0..n).map(|e| Deps::coords(dims, e)).collect()
}

/// SAME padding: the input index of output index `o`, tap `t`.
/// The input index of output index `o`, tap `t`, with `before` positions of padding.
fn tap(o: usize, t: usize, stride: usize, dil: usize, before: usize, n: usize) -> Option<usize> {
    let pos = (o * stride + t * dil) as i64 - before as i64;
    (pos >= 0 && (pos as usize) < n).then_some(pos as usize)
}

/// Padding before the first position along spatial axis `axis`, by the catalog's own rule.
fn pad_before(a: &Attrs, n: usize, k: usize, s: usize, d: usize, axis: usize) -> usize {
    nasc::ops::window(n as i64, k as i64, s as i64, d as i64, &a.padding(), axis).expect("window fits").before as usize
}

/// The structural semantics of one op: for each output coordinate, what it reads.
fn reads(op: OpKind, a: &Attrs, ins: &[Vec<usize>], out: &[usize]) -> Box<dyn Fn(&[usize]) -> Vec<(usize, Vec<usize>)>> {
    let x = ins[0].clone();
    let r = x.len();
    let out = out.to_vec();
    match op {
        OpKind::Relu
        | OpKind::Gelu
        | OpKind::Silu
        | OpKind::Sigmoid
        | OpKind::Tanh
        | OpKind::HardSwish
        | OpKind::Relu6
        | OpKind::HardSigmoid
        | OpKind::Clamp
        | OpKind::DropPath
        | OpKind::Dropout
        | OpKind::Scale
        | OpKind::Identity
        | OpKind::BatchNorm
        | OpKind::Reshape
        | OpKind::Flatten => {
            // element-wise (batch norm at inference), or the same flat index (reshapes)
            Box::new(move |c| {
                let flat = c.iter().zip(&out).fold(0, |acc, (i, d)| acc * d + i);
                vec![(0, Deps::coords(&x, flat))]
            })
        }
        OpKind::Add | OpKind::Mul => {
            let y = ins[1].clone();
            Box::new(move |c| vec![(0, bcast(c, &x)), (1, bcast(c, &y))])
        }
        OpKind::Broadcast => Box::new(move |c| vec![(0, bcast(c, &x))]),
        OpKind::Dense | OpKind::LayerNorm => Box::new(move |c| (0..x[r - 1]).map(|k| (0, [&c[..r - 1], &[k]].concat())).collect()),
        OpKind::Softmax => {
            let ax = axis(a, "axis", r);
            Box::new(move |c| {
                (0..x[ax])
                    .map(|k| {
                        let mut v = c.to_vec();
                        v[ax] = k;
                        (0, v)
                    })
                    .collect()
            })
        }
        OpKind::GroupNorm => {
            let g = int(a, "groups") as usize;
            Box::new(move |c| {
                let per = x[r - 1] / g;
                let grp = c[r - 1] / per;
                // every position of the sample, channels of the group
                let mut space = x[1..r - 1].to_vec();
                space.push(per);
                all(&space)
                    .into_iter()
                    .map(|mut sc| {
                        let ch = grp * per + sc.pop().unwrap_or(0);
                        let mut ic = vec![c[0]];
                        ic.extend(sc);
                        ic.push(ch);
                        (0, ic)
                    })
                    .collect()
            })
        }
        OpKind::Conv | OpKind::AvgPool | OpKind::MaxPool => {
            let conv = op == OpKind::Conv;
            let pair = |n: &str| a.int_pair(n).expect("concrete attribute").map(|v| v as usize);
            let k = pair(if conv { "kernel" } else { "window" });
            let s = pair("stride");
            let d = if conv { pair("dilation") } else { [1, 1] };
            let g = if conv { int(a, "groups") as usize } else { 1 };
            let (ph, pw) = (pad_before(a, x[1], k[0], s[0], d[0], 0), pad_before(a, x[2], k[1], s[1], d[1], 1));
            Box::new(move |c| {
                let mut v = Vec::new();
                for th in 0..k[0] {
                    for tw in 0..k[1] {
                        let (Some(h), Some(w)) = (tap(c[1], th, s[0], d[0], ph, x[1]), tap(c[2], tw, s[1], d[1], pw, x[2])) else { continue };
                        if conv {
                            let per_in = x[3] / g;
                            let grp = c[3] / (out[3] / g);
                            v.extend((0..per_in).map(|ci| (0, vec![c[0], h, w, grp * per_in + ci])));
                        } else {
                            v.push((0, vec![c[0], h, w, c[3]]));
                        }
                    }
                }
                v
            })
        }
        OpKind::Mean => {
            let axes: Vec<usize> = a
                .dims("axes")
                .iter()
                .map(|d| {
                    let v = d.as_int().expect("int");
                    if v < 0 { (v + r as i64) as usize } else { v as usize }
                })
                .collect();
            let keep = a.bool("keepdims");
            Box::new(move |c| {
                let mut kept = c.iter();
                let base: Vec<Option<usize>> = (0..r)
                    .map(|i| {
                        if axes.contains(&i) {
                            if keep {
                                kept.next();
                            }
                            None
                        } else {
                            kept.next().copied()
                        }
                    })
                    .collect();
                all(&x).into_iter().filter(|ic| base.iter().zip(ic).all(|(b, i)| b.is_none_or(|b| b == *i))).map(|ic| (0, ic)).collect()
            })
        }
        OpKind::Transpose => {
            let perm: Vec<usize> = a.dims("perm").iter().map(|d| d.as_int().expect("int") as usize).collect();
            Box::new(move |c| {
                let mut ic = vec![0; r];
                for (j, p) in perm.iter().enumerate() {
                    ic[*p] = c[j];
                }
                vec![(0, ic)]
            })
        }
        OpKind::Concat => {
            // slot 0 first along the axis, then the other inputs
            let ax = axis(a, "axis", r);
            let sizes: Vec<usize> = ins.iter().map(|s| s[ax]).collect();
            Box::new(move |c| {
                let mut off = 0;
                for (slot, n) in sizes.iter().enumerate() {
                    if c[ax] < off + n {
                        let mut v = c.to_vec();
                        v[ax] -= off;
                        return vec![(slot, v)];
                    }
                    off += n;
                }
                vec![]
            })
        }
        OpKind::Split => {
            // output piece 0
            Box::new(move |c| vec![(0, c.to_vec())])
        }
        OpKind::Slice => {
            let (ax, step) = (axis(a, "axis", r), int(a, "step") as usize);
            let start = int(a, "start");
            let start = if start < 0 { start + x[ax] as i64 } else { start } as usize;
            Box::new(move |c| {
                let mut v = c.to_vec();
                v[ax] = start + c[ax] * step;
                vec![(0, v)]
            })
        }
        OpKind::Roll => {
            let (ax, shift) = (axis(a, "axis", r), int(a, "shift"));
            let n = x[ax] as i64;
            Box::new(move |c| {
                let mut v = c.to_vec();
                v[ax] = (c[ax] as i64 - shift).rem_euclid(n) as usize;
                vec![(0, v)]
            })
        }
        OpKind::Gather => {
            let ax = axis(a, "axis", r);
            let at: Vec<usize> = a.dims("indices").iter().map(|d| d.as_int().expect("concrete") as usize).collect();
            Box::new(move |c| {
                let mut v = c.to_vec();
                v[ax] = at[c[ax]];
                vec![(0, v)]
            })
        }
        OpKind::Select => {
            let ax = axis(a, "axis", r);
            let idx = int(a, "index") as usize;
            Box::new(move |c| {
                let mut v = c.to_vec();
                v.insert(ax, idx);
                vec![(0, v)]
            })
        }
        OpKind::Matmul => {
            let y = ins[1].clone();
            Box::new(move |c| {
                let n = c.len();
                let kdim = x[x.len() - 1];
                let mut v = Vec::new();
                for k in 0..kdim {
                    let mut ac = bcast(&c[..n - 2], &x[..x.len() - 2]);
                    ac.extend([c[n - 2], k]);
                    let mut bc = bcast(&c[..n - 2], &y[..y.len() - 2]);
                    bc.extend([k, c[n - 1]]);
                    v.push((0, ac));
                    v.push((1, bc));
                }
                v
            })
        }
        OpKind::Einsum => {
            let spec_s = a.str("spec").to_string();
            let (lhs, outs) = spec_s.split_once("->").expect("arrow");
            let ops: Vec<Vec<char>> = lhs.split(',').map(|s| s.chars().collect()).collect();
            let outl: Vec<char> = outs.chars().collect();
            let mut size = std::collections::BTreeMap::new();
            for (o, s) in ops.iter().zip(ins) {
                for (ch, n) in o.iter().zip(s) {
                    size.insert(*ch, *n);
                }
            }
            let contracted: Vec<char> = size.keys().copied().filter(|ch| !outl.contains(ch)).collect();
            let cdims: Vec<usize> = contracted.iter().map(|ch| size[ch]).collect();
            Box::new(move |c| {
                let mut v = Vec::new();
                for cc in all(&cdims) {
                    let val = |ch: &char| {
                        outl.iter().position(|o| o == ch).map(|p| c[p]).unwrap_or_else(|| cc[contracted.iter().position(|k| k == ch).expect("contracted")])
                    };
                    for (slot, o) in ops.iter().enumerate() {
                        v.push((slot, o.iter().map(val).collect()));
                    }
                }
                v
            })
        }
        OpKind::Param => Box::new(|_| vec![]),
    }
}

/// The centre of the part of the output that reads the tracked input at all: the whole output
/// for one-input ops (the paper's centre element), one input's segment after a concat (where
/// the paper's centre would fall in another input's segment and say nothing about this one).
fn reached_centre(out: &Deps) -> Option<Vec<usize>> {
    let mut lo = out.dims.clone();
    let mut hi = vec![0; out.dims.len()];
    let mut any = false;
    for (e, set) in out.sets.iter().enumerate() {
        if set.iter().any(|w| *w != 0) {
            any = true;
            for (k, c) in Deps::coords(&out.dims, e).into_iter().enumerate() {
                (lo[k], hi[k]) = (lo[k].min(c), hi[k].max(c));
            }
        }
    }
    any.then(|| {
        lo.iter()
            .zip(&hi)
            .map(|(l, h)| {
                let len = h + 1 - l;
                l + len / 2
            })
            .collect()
    })
}

/// Concrete mixing of `out` with respect to the input whose deps were seeded (size `in_dims`).
fn concrete(out: &Deps, in_dims: &[usize]) -> Mixing {
    let (r, c) = (in_dims.len(), out.dims.len());
    let mut m = Mixing::filled(r, c, Level::X);
    let Some(centre) = reached_centre(out) else { return m };
    let centre_deps = &out.sets[out.index(&centre)];
    let positions = |set: &[u64], i: usize| {
        let mut seen = vec![false; in_dims[i]];
        for (w, word) in set.iter().enumerate() {
            for b in 0..64 {
                if word >> b & 1 == 1 {
                    let e = w * 64 + b;
                    if e < in_dims.iter().product() {
                        seen[Deps::coords(in_dims, e)[i]] = true;
                    }
                }
            }
        }
        seen.iter().filter(|s| **s).count()
    };
    for j in 0..c {
        let mut slice = vec![0u64; out.words];
        for p in 0..out.dims[j] {
            let mut idx = centre.clone();
            idx[j] = p;
            union(&mut slice, &out.sets[out.index(&idx)]);
        }
        for i in 0..r {
            if positions(&slice, i) < in_dims[i] {
                continue;
            }
            m.set(
                i,
                j,
                match positions(centre_deps, i) {
                    0 => Level::X,
                    n if n == in_dims[i] => Level::A,
                    1 => Level::O,
                    _ => Level::M,
                },
            );
        }
    }
    m
}

fn shape(d: &[usize]) -> Shape {
    Shape(d.iter().map(|&x| Dim::int(x as i64)).collect())
}

/// Apply one op to deps (slot 0 is the tracked input; other inputs read nothing tracked).
fn apply(op: OpKind, a: &Attrs, inputs: &[Deps], out_index: usize) -> (Deps, Shape) {
    let in_shapes: Vec<Shape> = inputs.iter().map(|d| shape(&d.dims)).collect();
    let outs = (spec(op).shape)(&in_shapes, a).expect("valid op");
    let out_dims = dims_of(&outs[out_index]);
    let in_dims: Vec<Vec<usize>> = inputs.iter().map(|d| d.dims.clone()).collect();
    let f = reads(op, a, &in_dims, &out_dims);
    let refs: Vec<&Deps> = inputs.iter().collect();
    (eval(&out_dims, &refs, &*f), outs[out_index].clone())
}

fn check_le(abs: &Mixing, conc: &Mixing, what: &str) -> bool {
    for i in 0..abs.rows {
        for j in 0..abs.cols {
            assert!(abs.get(i, j) <= conc.get(i, j), "{what}: abstract {abs:?} is above concrete {conc:?} at ({i}, {j})");
        }
    }
    abs == conc
}

fn iv(n: i64) -> AttrValue {
    AttrValue::Int(Dim::int(n))
}

fn ints(v: &[i64]) -> AttrValue {
    AttrValue::Ints(v.iter().map(|&n| Dim::int(n)).collect())
}

fn conv_attrs(f: i64, k: i64, s: i64, d: i64, g: i64) -> Attrs {
    Attrs(vec![("features", iv(f)), ("kernel", iv(k)), ("stride", iv(s)), ("dilation", iv(d)), ("groups", iv(g)), ("bias", AttrValue::Bool(true))])
}

/// (op, attributes, input shapes, tracked slot, output index)
fn cases() -> Vec<(OpKind, Attrs, Vec<Vec<usize>>, usize, usize)> {
    let img = vec![2, 6, 6, 4];
    let seq = vec![2, 5, 4];
    let mut v = vec![];
    let activations = nasc::ops::catalog().iter().filter(|s| s.role.synth == nasc::ops::Synth::Activation).map(|s| s.kind);
    for k in activations.chain([OpKind::BatchNorm, OpKind::Identity, OpKind::LayerNorm]) {
        v.push((k, Attrs::default(), vec![img.clone()], 0, 0));
        v.push((k, Attrs::default(), vec![seq.clone()], 0, 0));
    }
    v.push((OpKind::Dropout, Attrs(vec![("rate", AttrValue::Float(0.2))]), vec![img.clone()], 0, 0));
    v.push((OpKind::Scale, Attrs(vec![("s", AttrValue::Float(0.5))]), vec![seq.clone()], 0, 0));
    v.push((OpKind::Clamp, Attrs(vec![("min", AttrValue::Float(-1.0)), ("max", AttrValue::Float(2.0))]), vec![img.clone()], 0, 0));
    v.push((OpKind::DropPath, Attrs(vec![("rate", AttrValue::Float(0.1))]), vec![img.clone()], 0, 0));
    v.push((OpKind::Dense, Attrs(vec![("features", iv(3)), ("bias", AttrValue::Bool(true))]), vec![img.clone()], 0, 0));
    v.push((OpKind::Dense, Attrs(vec![("features", iv(7)), ("bias", AttrValue::Bool(false))]), vec![vec![3, 5]], 0, 0));
    for axis in [-1, 1] {
        v.push((OpKind::Softmax, Attrs(vec![("axis", iv(axis))]), vec![seq.clone()], 0, 0));
    }
    for g in [1, 2, 4] {
        v.push((OpKind::GroupNorm, Attrs(vec![("groups", iv(g))]), vec![img.clone()], 0, 0));
    }
    for (f, k, s, d, g) in
        [(4, 1, 1, 1, 1), (8, 3, 1, 1, 1), (4, 3, 2, 1, 1), (4, 5, 1, 2, 1), (4, 3, 1, 1, 2), (4, 3, 1, 1, 4), (8, 1, 2, 1, 1), (6, 2, 2, 1, 2)]
    {
        v.push((OpKind::Conv, conv_attrs(f, k, s, d, g), vec![img.clone()], 0, 0));
    }
    // Padding modes, on odd sizes where SAME rounds up and strides leave positions unread.
    let explicit = |t: i64, b: i64, l: i64, r: i64| Padding::Explicit { top: Dim::int(t), bottom: Dim::int(b), left: Dim::int(l), right: Dim::int(r) };
    for p in [Padding::Same, Padding::Valid, explicit(0, 2, 1, 1)] {
        for (k, s) in [(3, 2), (2, 2), (3, 1)] {
            let mut attrs = conv_attrs(4, k, s, 1, 1);
            attrs.0.push(("padding", AttrValue::Padding(p.clone())));
            v.push((OpKind::Conv, attrs, vec![vec![2, 7, 5, 4]], 0, 0));
        }
    }
    // Rectangular windows: 1×k and k×1 (Inception's factorised convs), strides and dilations
    // that differ by axis, and explicit padding on one axis only.
    let rect = |name: &'static str, hw: [i64; 2]| (name, ints(&hw));
    for (k, s, d, p) in [
        ([1, 3], [1, 1], [1, 1], Padding::Same),
        ([3, 1], [1, 1], [1, 1], explicit(1, 1, 0, 0)),
        ([1, 3], [2, 1], [1, 2], Padding::Valid),
        ([2, 3], [1, 2], [2, 1], explicit(0, 1, 1, 1)),
    ] {
        let attrs = Attrs(vec![
            ("features", iv(4)),
            rect("kernel", k),
            rect("stride", s),
            rect("dilation", d),
            ("groups", iv(1)),
            ("bias", AttrValue::Bool(true)),
            ("padding", AttrValue::Padding(p)),
        ]);
        v.push((OpKind::Conv, attrs, vec![vec![2, 7, 6, 4]], 0, 0));
    }
    for kind in [OpKind::AvgPool, OpKind::MaxPool] {
        let attrs = Attrs(vec![rect("window", [1, 3]), rect("stride", [1, 2]), ("padding", AttrValue::Padding(explicit(0, 0, 1, 1)))]);
        v.push((kind, attrs, vec![vec![2, 5, 7, 4]], 0, 0));
    }
    for kind in [OpKind::AvgPool, OpKind::MaxPool] {
        for (w, s) in [(2, 2), (3, 1), (3, 2), (3, 3)] {
            v.push((kind, Attrs(vec![("window", iv(w)), ("stride", iv(s))]), vec![img.clone()], 0, 0));
        }
        for p in [Padding::Valid, explicit(1, 0, 0, 2)] {
            for ceil in [false, true] {
                let attrs = Attrs(vec![("window", iv(3)), ("stride", iv(2)), ("padding", AttrValue::Padding(p.clone())), ("ceil_mode", AttrValue::Bool(ceil))]);
                v.push((kind, attrs, vec![vec![2, 7, 6, 4]], 0, 0));
            }
        }
    }
    for keep in [false, true] {
        v.push((OpKind::Mean, Attrs(vec![("axes", ints(&[1, 2])), ("keepdims", AttrValue::Bool(keep))]), vec![img.clone()], 0, 0));
    }
    v.push((OpKind::Reshape, Attrs(vec![("shape", ints(&[2, 36, 4]))]), vec![img.clone()], 0, 0));
    v.push((OpKind::Reshape, Attrs(vec![("shape", ints(&[2, 5, 2, 2]))]), vec![seq.clone()], 0, 0));
    v.push((OpKind::Flatten, Attrs(vec![("start", iv(1))]), vec![img.clone()], 0, 0));
    v.push((OpKind::Transpose, Attrs(vec![("perm", ints(&[0, 2, 1]))]), vec![seq.clone()], 0, 0));
    for slot in [0, 1] {
        v.push((OpKind::Concat, Attrs(vec![("axis", iv(1))]), vec![seq.clone(), vec![2, 3, 4]], slot, 0));
        v.push((OpKind::Concat, Attrs(vec![("axis", iv(-1))]), vec![img.clone(), vec![2, 6, 6, 2]], slot, 0));
    }
    v.push((OpKind::Split, Attrs(vec![("parts", iv(2)), ("axis", iv(-1))]), vec![seq.clone()], 0, 0));
    v.push((OpKind::Split, Attrs(vec![("parts", iv(0)), ("axis", iv(1)), ("sizes", ints(&[1, 4]))]), vec![seq.clone()], 0, 0));
    let slice = |ax: i64, start: i64, end: i64, step: i64| Attrs(vec![("axis", iv(ax)), ("start", iv(start)), ("end", iv(end)), ("step", iv(step))]);
    v.push((OpKind::Slice, slice(1, 1, 6, 2), vec![img.clone()], 0, 0));
    v.push((OpKind::Slice, slice(-1, 0, 4, 1), vec![img.clone()], 0, 0));
    v.push((OpKind::Roll, Attrs(vec![("shift", iv(-2)), ("axis", iv(2))]), vec![img.clone()], 0, 0));
    v.push((OpKind::Gather, Attrs(vec![("axis", iv(3)), ("indices", ints(&[0, 0, 3, 1, 2]))]), vec![img.clone()], 0, 0));
    v.push((OpKind::Gather, Attrs(vec![("axis", iv(1)), ("indices", ints(&[2, 2]))]), vec![seq.clone()], 0, 0));
    v.push((OpKind::Select, Attrs(vec![("axis", iv(1)), ("index", iv(0))]), vec![seq.clone()], 0, 0));
    v.push((OpKind::Broadcast, Attrs(vec![("shape", ints(&[2, 5, 4]))]), vec![vec![2, 1, 4]], 0, 0));
    for slot in [0, 1] {
        v.push((OpKind::Add, Attrs::default(), vec![seq.clone(), vec![1, 5, 4]], slot, 0));
        v.push((OpKind::Mul, Attrs::default(), vec![seq.clone(), seq.clone()], slot, 0));
        v.push((OpKind::Matmul, Attrs::default(), vec![vec![2, 3, 4], vec![2, 4, 5]], slot, 0));
        let spec = AttrValue::Str("bnhd,bmhd->bhnm".into());
        v.push((OpKind::Einsum, Attrs(vec![("spec", spec)]), vec![vec![2, 3, 2, 4], vec![2, 5, 2, 4]], slot, 0));
    }
    v
}

#[test]
fn every_catalog_op_is_below_its_concrete_mixing() {
    let (mut equal, mut total) = (0, 0);
    let mut covered = std::collections::BTreeSet::new();
    for (op, attrs, in_dims, slot, out) in cases() {
        covered.insert(format!("{op}"));
        let inputs: Vec<Deps> =
            in_dims.iter().enumerate().map(|(k, d)| if k == slot { Deps::input(d) } else { Deps::empty(d, Deps::input(&in_dims[slot]).words) }).collect();
        let (deps, _) = apply(op, &attrs, &inputs, out);
        let conc = concrete(&deps, &in_dims[slot]);
        let in_shapes: Vec<Shape> = in_dims.iter().map(|d| shape(d)).collect();
        let outs = (spec(op).shape)(&in_shapes, &attrs).expect("valid");
        let abs = op_mixing(op, &attrs, &in_shapes, &outs, slot, out);
        total += 1;
        equal += usize::from(check_le(&abs, &conc, &format!("{op} {attrs:?} slot {slot}")));
    }
    let missing: Vec<&str> = nasc::ops::catalog().iter().map(|s| s.name).filter(|n| *n != "param" && !covered.contains(*n)).collect();
    assert!(missing.is_empty(), "ops without an oracle case: {missing:?}");
    println!("per-op mixing: abstract equals concrete in {equal} of {total} cases");
    assert!(equal * 10 >= total * 7, "abstract matrices should usually be exact: {equal}/{total}");
}

#[test]
fn random_synthesized_chains_are_below_their_concrete_mixing() {
    let (mut equal, mut total) = (0, 0);
    for seed in 0..300u64 {
        let mut rng = Rng::new(seed);
        let input = if rng.chance(50) { shape(&[2, 4, 4, 4]) } else { shape(&[2, 5, 4]) };
        // a random target from a random chain of representatives, as evolution makes them
        let free = Target { shape: None, ..Target::shape_only(&input, &input) };
        let mut chain = Chain::identity(&input);
        for _ in 0..1 + rng.below(5) {
            let reps = representatives(&chain.shape, &free);
            let rep = rng.pick(&reps);
            chain = chain.then(&rep.op).unwrap_or(chain);
        }
        let t = Target { depth_min: Some(chain.depth.value()), mixing: Some(chain.mixing.clone()), ..Target::shape_only(&input, &chain.shape) };
        let Ok(fill) = synthesize(&t, &SynthConfig { seed, ..Default::default() }) else { continue };
        let mut deps = Deps::input(&dims_of(&input));
        for op in &fill.ops {
            let ChainOp { op, attrs } = op;
            deps = apply(*op, attrs, &[deps], 0).0;
        }
        let conc = concrete(&deps, &dims_of(&input));
        total += 1;
        equal += usize::from(check_le(&fill.chain.mixing, &conc, &format!("seed {seed}: {:?}", fill.ops)));
    }
    println!("synthesized chains: abstract equals concrete in {equal} of {total}");
    assert!(total >= 250);
}

/// Holes with several inputs (and so every multi-input fill the search stores): each input's
/// path (its branch, the junction, the tail) is below its concrete mixing.
#[test]
fn random_multi_input_fills_are_below_their_concrete_mixing() {
    let (mut equal, mut total) = (0, 0);
    let layouts: [(&[&[usize]], &[usize]); 4] = [
        (&[&[2, 4, 4, 4], &[2, 4, 4, 4]], &[2, 4, 4, 4]),
        (&[&[2, 6, 6, 2], &[2, 3, 3, 4]], &[2, 3, 3, 4]),
        (&[&[2, 5, 4], &[2, 5, 6], &[2, 5, 2]], &[2, 5, 6]),
        (&[&[2, 4, 4, 2], &[2, 2, 2, 4]], &[2, 2, 2, 6]),
    ];
    let mut junctions = std::collections::BTreeSet::new();
    for seed in 0..120u64 {
        let (ins, out) = layouts[seed as usize % layouts.len()];
        let inputs: Vec<Shape> = ins.iter().map(|d| shape(d)).collect();
        let mut t = Target::shape_only(&inputs[0], &shape(out));
        t.depth_min = Some(seed as u32 % 3);
        let Ok(g) = nasc::synth::graph::synthesize_graph(&inputs, &t, &SynthConfig { seed, ..Default::default() }) else { continue };
        junctions.insert(g.junction.name());
        let ChainOp { op: jop, attrs: jattrs } = match g.junction {
            nasc::synth::graph::Junction::Add => ChainOp { op: OpKind::Add, attrs: Attrs::default() },
            nasc::synth::graph::Junction::Concat => ChainOp { op: OpKind::Concat, attrs: Attrs(vec![("axis", iv(-1))]) },
        };
        for (k, path) in g.paths.iter().enumerate() {
            let words = Deps::input(ins[k]).words;
            let branches: Vec<Deps> = ins
                .iter()
                .zip(&g.branches)
                .enumerate()
                .map(|(j, (d, b))| {
                    let start = if j == k { Deps::input(d) } else { Deps::empty(d, words) };
                    b.ops.iter().fold(start, |deps, o| apply(o.op, &o.attrs, &[deps], 0).0)
                })
                .collect();
            let joined = apply(jop, &jattrs, &branches, 0).0;
            let deps = g.tail.ops.iter().fold(joined, |deps, o| apply(o.op, &o.attrs, &[deps], 0).0);
            total += 1;
            equal += usize::from(check_le(&path.mixing, &concrete(&deps, ins[k]), &format!("seed {seed}, input {k}: {g:?}")));
        }
    }
    println!("multi-input fills: abstract equals concrete in {equal} of {total} paths; junctions {junctions:?}");
    assert!(total >= 200 && junctions.len() == 2, "{total} paths, junctions {junctions:?}");
}
