//! The op space of synthesis, compressed into classes of ops with the same abstract effect
//! (paper §4.5). Synthesis searches over one representative per class; the concretization pass
//! picks a member of the class.

use crate::ops::{AttrValue, Attrs, OpKind, Synth};
use crate::props::{ChainOp, Target};
use crate::shape::{Dim, Shape};

/// Classes of ops that act alike on mixing, depth and shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Class {
    /// The catalog's activations (relu, gelu, silu, sigmoid, tanh, ...).
    Activation,
    /// batch_norm, dropout, scale: linear and element-wise.
    LinearElementwise,
    LayerNorm,
    /// group_norm over one group (statistics over space and channels).
    GroupNorm,
    /// softmax over one axis.
    Softmax(i64),
    /// dense, or a 1×1 conv, to `features`.
    Dense(Dim),
    /// a k×k conv (k > 1, stride 1) to `features`.
    Conv(Dim),
    /// a 1×k (axis 1: mixes the width only) or k×1 (axis 0: the height only) conv, stride 1, to
    /// `features`: with its transpose, the classic factorisation of a k×k conv (Inception v3).
    ConvAxis(Dim, usize),
    /// a strided conv dividing space by `stride`.
    ConvDown(Dim, i64),
    /// pooling dividing space by `stride`.
    PoolDown(i64),
    /// pooling with stride 1 (spatial many-to-one, channels one-to-one).
    PoolLocal,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rep {
    pub class: Class,
    pub op: ChainOp,
}

fn int(n: i64) -> AttrValue {
    AttrValue::Int(Dim::int(n))
}

fn op(kind: OpKind, attrs: Vec<(&'static str, AttrValue)>) -> ChainOp {
    ChainOp { op: kind, attrs: crate::ops::with_defaults(kind, Attrs(attrs)) }
}

fn dense(f: &Dim) -> ChainOp {
    op(OpKind::Dense, vec![("features", AttrValue::Int(f.clone())), ("bias", AttrValue::Bool(true))])
}

fn conv(f: &Dim, kernel: i64, stride: i64, dilation: i64, groups: Dim) -> ChainOp {
    op(
        OpKind::Conv,
        vec![
            ("features", AttrValue::Int(f.clone())),
            ("kernel", int(kernel)),
            ("stride", int(stride)),
            ("dilation", int(dilation)),
            ("groups", AttrValue::Int(groups)),
            ("bias", AttrValue::Bool(true)),
        ],
    )
}

/// A conv reaching `k` positions along spatial axis `axis` and one along the other.
fn conv_along(f: &Dim, axis: usize, k: i64) -> ChainOp {
    let kernel = if axis == 0 { [k, 1] } else { [1, k] };
    let mut c = conv(f, 1, 1, 1, Dim::one());
    for (name, v) in c.attrs.0.iter_mut() {
        if *name == "kernel" {
            *v = AttrValue::Ints(kernel.iter().map(|&n| Dim::int(n)).collect());
        }
    }
    c
}

fn pool(kind: OpKind, window: i64, stride: i64) -> ChainOp {
    op(kind, vec![("window", int(window)), ("stride", int(stride))])
}

fn group_norm(groups: i64) -> ChainOp {
    op(OpKind::GroupNorm, vec![("groups", int(groups))])
}

fn softmax(axis: i64) -> ChainOp {
    op(OpKind::Softmax, vec![("axis", int(axis))])
}

/// Channel counts to try: the current C, 2C, 4C, C/2, C/4 (as in the αNAS code) and the
/// channel count the target asks for.
fn features(cur: &Shape, t: &Target) -> Vec<Dim> {
    let Some(c) = cur.last() else { return vec![] };
    let mut out = vec![c.clone()];
    if let Some(want) = t.shape.as_ref().and_then(|s| s.last()) {
        out.push(want.clone());
    }
    for k in [2, 4] {
        out.extend(c.mul(&Dim::int(k)).ok());
        out.extend(c.div(&Dim::int(k)).ok().filter(|d| !d.is_fractional() && !d.is_nonpositive() && *d != Dim::zero()));
    }
    let mut uniq: Vec<Dim> = Vec::new();
    for d in out {
        if !uniq.contains(&d) {
            uniq.push(d);
        }
    }
    uniq
}

/// Spatial reduction factors the target still needs (2 or 3), from the height.
fn down_factors(cur: &Shape, t: &Target) -> Vec<i64> {
    let (Some(want), 4) = (&t.shape, cur.rank()) else { return vec![] };
    let Some(q) = cur.0[1].div(&want.0[1]).ok().and_then(|q| q.as_int()) else { return vec![] };
    [2, 3].into_iter().filter(|f| q % f == 0 && q >= *f).collect()
}

/// The first allowed member of each class that applies at `cur`: the candidates of one step.
pub fn representatives(cur: &Shape, t: &Target) -> Vec<Rep> {
    let mut classes = vec![Class::Activation, Class::LinearElementwise, Class::LayerNorm, Class::Softmax(-1)];
    let r = cur.rank();
    if r == 3 {
        classes.push(Class::Softmax(1));
    }
    if r == 4 {
        classes.push(Class::GroupNorm);
        classes.push(Class::PoolLocal);
    }
    for f in features(cur, t) {
        classes.push(Class::Dense(f.clone()));
        if r == 4 {
            classes.push(Class::Conv(f.clone()));
            classes.push(Class::ConvAxis(f.clone(), 0));
            classes.push(Class::ConvAxis(f, 1));
        }
    }
    for s in down_factors(cur, t) {
        classes.push(Class::PoolDown(s));
        classes.push(Class::ConvDown(cur.0[3].clone(), s));
        if let Some(want) = t.shape.as_ref().and_then(|w| w.last()).filter(|w| *w != &cur.0[3]) {
            classes.push(Class::ConvDown(want.clone(), s));
        }
    }
    classes
        .into_iter()
        .filter_map(|class| {
            let op = members_of(&class, cur).into_iter().find(|m| t.allows(m.op))?;
            Some(Rep { class, op })
        })
        .collect()
}

/// The allowed members of a representative's class at `cur`, for the concretization pass.
pub fn members(rep: &Rep, cur: &Shape, t: &Target) -> Vec<ChainOp> {
    members_of(&rep.class, cur).into_iter().filter(|m| t.allows(m.op)).collect()
}

/// Every member of a class, the representative first.
fn members_of(class: &Class, cur: &Shape) -> Vec<ChainOp> {
    let channels = cur.last().cloned().unwrap_or_else(Dim::one);
    match class {
        Class::Activation => activations().map(|k| op(k, vec![])).collect(),
        Class::LinearElementwise => vec![
            op(OpKind::BatchNorm, vec![]),
            op(OpKind::Dropout, vec![("rate", AttrValue::Float(0.2))]),
            op(OpKind::Scale, vec![("s", AttrValue::Float(0.5))]),
        ],
        Class::LayerNorm => vec![op(OpKind::LayerNorm, vec![])],
        Class::GroupNorm => {
            let mut v = vec![group_norm(1)];
            v.extend([2, 4, 8, 16, 32].into_iter().filter(|g| divides(*g, &channels)).map(group_norm));
            v
        }
        Class::Softmax(axis) => vec![softmax(*axis)],
        Class::Dense(f) => {
            let mut v = vec![dense(f)];
            if cur.rank() == 4 {
                v.push(conv(f, 1, 1, 1, Dim::one()));
            }
            v
        }
        Class::Conv(f) => {
            let mut v = vec![conv(f, 3, 1, 1, Dim::one())];
            for k in [3, 5] {
                for d in [1, 2, 3] {
                    if (k, d) != (3, 1) {
                        v.push(conv(f, k, 1, d, Dim::one()));
                    }
                }
            }
            for g in [2, 4, 16, 64] {
                if divides(g, &channels) && divides(g, f) {
                    v.push(conv(f, 3, 1, 1, Dim::int(g)));
                }
            }
            if *f == channels {
                v.push(conv(f, 3, 1, 1, channels.clone()));
            }
            v
        }
        Class::ConvAxis(f, axis) => [3, 5, 7].into_iter().map(|k| conv_along(f, *axis, k)).collect(),
        Class::ConvDown(f, s) => vec![conv(f, 3.max(*s), *s, 1, Dim::one()), conv(f, *s, *s, 1, Dim::one())],
        Class::PoolDown(s) => {
            vec![pool(OpKind::MaxPool, *s, *s), pool(OpKind::AvgPool, *s, *s), pool(OpKind::MaxPool, s + 1, *s), pool(OpKind::AvgPool, s + 1, *s)]
        }
        Class::PoolLocal => vec![pool(OpKind::AvgPool, 3, 1), pool(OpKind::MaxPool, 3, 1)],
    }
}

/// The activation class, in catalog order (relu, its representative, first).
fn activations() -> impl Iterator<Item = OpKind> {
    crate::ops::catalog().iter().filter(|s| s.role.synth == Synth::Activation).map(|s| s.kind)
}

fn divides(g: i64, d: &Dim) -> bool {
    d.as_int().is_some_and(|n| n % g == 0 && n > g)
}
