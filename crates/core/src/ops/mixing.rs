//! Mixing matrices (paper §3.1): for one input and one output of an op, which input dims are
//! paired with which output dims, and with what locality: x < o < m < a.
//!
//! The per-op matrices below are written from each op's definition and are lower bounds of the
//! concrete (Jacobian) mixing: a matrix may say less than the op does, never more. The test
//! suite checks this against a structural evaluation of every op.

use super::{Attrs, OpKind, Padding};
use crate::shape::Shape;
use std::fmt;

/// A mixing level. The order is the lattice order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Not paired.
    X,
    /// One-to-one.
    O,
    /// Many-to-one.
    M,
    /// All-to-one.
    A,
}

impl Level {
    pub fn letter(self) -> char {
        match self {
            Level::X => 'x',
            Level::O => 'o',
            Level::M => 'm',
            Level::A => 'a',
        }
    }
    pub fn from_letter(c: char) -> Option<Level> {
        match c {
            'x' => Some(Level::X),
            'o' => Some(Level::O),
            'm' => Some(Level::M),
            'a' => Some(Level::A),
            _ => None,
        }
    }
    /// The semiring product: x annihilates, otherwise the larger level wins (o∗m = m, m∗a = a).
    pub fn times(self, other: Level) -> Level {
        if self == Level::X || other == Level::X { Level::X } else { self.max(other) }
    }
}

/// A matrix with one row per input dim and one column per output dim.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mixing {
    pub rows: usize,
    pub cols: usize,
    cells: Vec<Level>,
}

impl Mixing {
    pub fn filled(rows: usize, cols: usize, level: Level) -> Mixing {
        Mixing { rows, cols, cells: vec![level; rows * cols] }
    }
    /// o on the diagonal, x elsewhere: the mixing of the identity.
    pub fn identity(rank: usize) -> Mixing {
        let mut m = Mixing::filled(rank, rank, Level::X);
        for i in 0..rank {
            m.set(i, i, Level::O);
        }
        m
    }
    pub fn get(&self, i: usize, j: usize) -> Level {
        self.cells[i * self.cols + j]
    }
    pub fn set(&mut self, i: usize, j: usize, v: Level) {
        self.cells[i * self.cols + j] = v;
    }
    /// Raise a cell to at least `v`.
    pub fn raise(&mut self, i: usize, j: usize, v: Level) {
        let k = i * self.cols + j;
        self.cells[k] = self.cells[k].max(v);
    }
    pub fn set_row(&mut self, i: usize, v: Level) {
        for j in 0..self.cols {
            self.set(i, j, v);
        }
    }
    /// Matrix product in the semiring (max, ∗): `self` maps A→B, `next` maps B→C.
    ///
    /// The paper's product (Lemma 3.6). The authors' code instead makes `a` left-absorbing
    /// (a row with an `a` becomes all `a`); we follow the paper, which is the sound lower bound.
    pub fn then(&self, next: &Mixing) -> Mixing {
        let mut out = Mixing::filled(self.rows, next.cols, Level::X);
        for i in 0..self.rows {
            for k in 0..self.cols.min(next.rows) {
                let p = self.get(i, k);
                if p == Level::X {
                    continue;
                }
                for j in 0..next.cols {
                    out.raise(i, j, p.times(next.get(k, j)));
                }
            }
        }
        out
    }
    /// Element-wise max (where paths meet).
    pub fn join(&self, other: &Mixing) -> Mixing {
        let mut out = self.clone();
        for (c, o) in out.cells.iter_mut().zip(&other.cells) {
            *c = (*c).max(*o);
        }
        out
    }
    /// Number of cells where `target` is above `self` (the mixing distance).
    pub fn shortfall(&self, target: &Mixing) -> usize {
        self.cells.iter().zip(&target.cells).filter(|(c, t)| t > c).count()
    }
    pub fn at_least(&self, target: &Mixing) -> bool {
        self.rows == target.rows && self.cols == target.cols && self.shortfall(target) == 0
    }
    pub fn rows_as_strings(&self) -> Vec<String> {
        (0..self.rows).map(|i| (0..self.cols).map(|j| self.get(i, j).letter()).collect()).collect()
    }
}

impl fmt::Debug for Mixing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.rows_as_strings().join("/"))
    }
}

/// The signature of a catalog entry's mixing rule: attributes, input shapes, output shapes,
/// input slot, output index.
pub type MixingFn = fn(&Attrs, &[Shape], &[Shape], usize, usize) -> Mixing;

/// The mixing of one op from input slot `slot` to its output `out`.
pub fn op_mixing(kind: OpKind, attrs: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    if ins.get(slot).is_none() || outs.get(out).is_none() {
        return Mixing::filled(0, 0, Level::X);
    }
    (super::spec(kind).mixing)(attrs, ins, outs, slot, out)
}

fn ranks(ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> (usize, usize) {
    (ins.get(slot).map_or(0, Shape::rank), outs.get(out).map_or(0, Shape::rank))
}

fn axis_of(attrs: &Attrs, name: &str, r: usize) -> Option<usize> {
    super::normalize_axis(&attrs.dim(name), r)
}

/// Element-wise ops (relu, scale, dropout, batch_norm at inference, identity, concat).
pub(super) fn elementwise(_: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    Mixing::identity(ranks(ins, outs, slot, out).0)
}

/// Element-wise with broadcasting (add, mul, broadcast).
pub(super) fn broadcasting(_: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    let (r, c) = ranks(ins, outs, slot, out);
    right_aligned(r, c)
}

/// Dense and layer_norm: the last dim is read whole by every output element.
pub(super) fn last_axis(_: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    last_all(ranks(ins, outs, slot, out).0)
}

pub(super) fn softmax(attrs: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    let r = ranks(ins, outs, slot, out).0;
    let mut m = Mixing::identity(r);
    if let Some(ax) = axis_of(attrs, "axis", r) {
        m.set_row(ax, Level::A);
    }
    m
}

pub(super) fn group_norm_mix(attrs: &Attrs, ins: &[Shape], _: &[Shape], slot: usize, _: usize) -> Mixing {
    let x = &ins[slot];
    group_norm(x.rank(), x, attrs)
}

pub(super) fn conv_mix(attrs: &Attrs, ins: &[Shape], _: &[Shape], slot: usize, _: usize) -> Mixing {
    conv(&ins[slot], attrs)
}

pub(super) fn pool_mix(attrs: &Attrs, ins: &[Shape], _: &[Shape], slot: usize, _: usize) -> Mixing {
    pool(&ins[slot], attrs)
}

pub(super) fn mean_mix(attrs: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    let (r, c) = ranks(ins, outs, slot, out);
    mean(r, attrs, c)
}

pub(super) fn reshape_mix(_: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    reshape(&ins[slot], &outs[out])
}

pub(super) fn transpose(attrs: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    let (r, c) = ranks(ins, outs, slot, out);
    let mut m = Mixing::filled(r, c, Level::X);
    for (j, d) in attrs.dims("perm").iter().enumerate() {
        if let Some(i) = super::normalize_axis(d, r).filter(|_| j < c) {
            m.set(i, j, Level::O);
        }
    }
    m
}

/// Split: each piece sees only part of the split axis, so that axis is unpaired.
pub(super) fn split(attrs: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    let r = ranks(ins, outs, slot, out).0;
    let mut m = Mixing::identity(r);
    if let Some(a) = axis_of(attrs, "axis", r) {
        m.set(a, a, Level::X);
    }
    m
}

/// One-to-one along the axis when the slice keeps every position, else x (positions dropped).
pub(super) fn slice_mix(attrs: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    let r = ranks(ins, outs, slot, out).0;
    let mut m = Mixing::identity(r);
    if let Some(a) = axis_of(attrs, "axis", r) {
        let keeps_all = ins[slot].0[a] == outs[out].0[a];
        if !keeps_all {
            m.set(a, a, Level::X);
        }
    }
    m
}

/// One-to-one along the axis when the indices read every position, else x.
pub(super) fn gather_mix(attrs: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    let r = ranks(ins, outs, slot, out).0;
    let mut m = Mixing::identity(r);
    if let Some(a) = axis_of(attrs, "axis", r) {
        let n = ins[slot].0[a].as_int().unwrap_or(0);
        let read: std::collections::BTreeSet<i64> = attrs.dims("indices").iter().filter_map(|d| d.as_int()).collect();
        if n <= 0 || read.len() as i64 != n {
            m.set(a, a, Level::X);
        }
    }
    m
}

pub(super) fn select(attrs: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    let (r, c) = ranks(ins, outs, slot, out);
    let ax = axis_of(attrs, "axis", r).unwrap_or(0);
    let mut m = Mixing::filled(r, c, Level::X);
    for (j, i) in (0..r).filter(|&i| i != ax).enumerate().filter(|(j, _)| *j < c) {
        m.set(i, j, Level::O);
    }
    m
}

pub(super) fn matmul_mix(_: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    let (r, c) = ranks(ins, outs, slot, out);
    matmul(r, c, slot)
}

pub(super) fn einsum_mix(attrs: &Attrs, ins: &[Shape], outs: &[Shape], slot: usize, out: usize) -> Mixing {
    let (r, c) = ranks(ins, outs, slot, out);
    einsum(attrs.str("spec"), slot, r, c)
}

/// No tensor input (param).
pub(super) fn source(_: &Attrs, _: &[Shape], _: &[Shape], _: usize, _: usize) -> Mixing {
    Mixing::filled(0, 0, Level::X)
}

/// Element-wise with broadcasting: input dims aligned to the right of the output's.
fn right_aligned(r: usize, c: usize) -> Mixing {
    let mut m = Mixing::filled(r, c, Level::X);
    for i in 0..r.min(c) {
        m.set(r - 1 - i, c - 1 - i, Level::O);
    }
    m
}

/// Each output element reads every position of the last input dim; other dims one-to-one.
fn last_all(r: usize) -> Mixing {
    let mut m = Mixing::identity(r);
    if r > 0 {
        m.set_row(r - 1, Level::A);
    }
    m
}

fn group_norm(r: usize, x: &Shape, attrs: &Attrs) -> Mixing {
    // Statistics per sample over every non-batch dim within a channel group.
    let mut m = Mixing::identity(r);
    let groups = attrs.int("groups").unwrap_or(0);
    let channels = x.last().and_then(|d| d.as_int()).unwrap_or(0);
    for i in 1..r.saturating_sub(1) {
        m.set_row(i, Level::A);
    }
    if r >= 2 {
        if groups == 1 {
            m.set_row(r - 1, Level::A);
        } else if groups > 1 && channels > groups {
            m.set(r - 1, r - 1, Level::M);
        }
        // Otherwise unknown or one channel per group: o stays (a lower bound).
    }
    m
}

fn conv(x: &Shape, attrs: &Attrs) -> Mixing {
    let mut m = Mixing::identity(4);
    if x.rank() != 4 {
        return Mixing::identity(x.rank());
    }
    let [k, s, d] = ["kernel", "stride", "dilation"].map(|n| attrs.int_pair(n).unwrap_or([0, 0]));
    let p = attrs.padding();
    for axis in 0..2 {
        m.set(1 + axis, 1 + axis, spatial_level(k[axis], s[axis], d[axis], x.0[1 + axis].as_int(), &p, axis, false));
    }
    let g = attrs.int("groups");
    let cin = x.0[3].as_int();
    match (g, cin) {
        (Some(1), _) => m.set_row(3, Level::A),
        (Some(g), Some(c)) if g == c => m.set(3, 3, Level::O),
        (Some(g), Some(c)) if g > 1 && c > g => m.set(3, 3, Level::M),
        // Symbolic groups or channels: o is a safe lower bound.
        _ => {}
    }
    m
}

/// Locality of a sliding window along spatial axis `axis` (0 height, 1 width) of size `n`: x
/// when the strides skip input positions, else how many positions the centre output reads.
/// With a symbolic size the dim is assumed to be at least as large as the window's reach.
fn spatial_level(kernel: i64, stride: i64, dilation: i64, n: Option<i64>, padding: &Padding, axis: usize, ceil: bool) -> Level {
    if kernel < 1 || stride < 1 || dilation < 1 {
        // symbolic attributes: one-to-one is all we know, and only without strides
        return if stride == 1 { Level::O } else { Level::X };
    }
    match n.filter(|n| *n > 0) {
        Some(n) if n <= EXACT_SPATIAL => exact_spatial_level(kernel, stride, dilation, n, padding, axis, ceil),
        // Without SAME padding, a stride can leave the last positions unread: x is sound.
        _ if *padding != Padding::Same && stride > 1 => Level::X,
        // A huge size (10^12 aborted allocating one flag per position): the window's reach
        // decides. When the dim is at least the reach, the symbolic rule below holds; when both
        // are huge, x is a sound lower bound.
        Some(n) if (kernel as i128 - 1) * dilation as i128 + 1 > n as i128 => Level::X,
        _ => symbolic_spatial_level(kernel, stride, dilation),
    }
}

/// Sizes up to this are checked position by position (at most this squared steps).
const EXACT_SPATIAL: i64 = 4096;

fn symbolic_spatial_level(kernel: i64, stride: i64, dilation: i64) -> Level {
    let covers = stride == 1 || (dilation == 1 && stride <= kernel);
    match (covers, kernel > 1) {
        (false, _) => Level::X,
        (true, true) => Level::M,
        (true, false) => Level::O,
    }
}

fn exact_spatial_level(kernel: i64, stride: i64, dilation: i64, n: i64, padding: &Padding, axis: usize, ceil: bool) -> Level {
    let Ok(w) = super::window_with(n, kernel, stride, dilation, padding, axis, ceil) else { return Level::X };
    let out_n = w.out;
    // i128: kernel and dilation are user numbers and their product may not fit in i64.
    let (k, s, d, n128, before) = (kernel as i128, stride as i128, dilation as i128, n as i128, w.before as i128);
    // Only the taps that land inside the dim, found in closed form (kernel may be huge).
    let taps = |o: i128| {
        let first = o * s - before;
        let lo = if first >= 0 { 0 } else { (-first + d - 1) / d };
        let hi = k.min((n128 - first + d - 1) / d).max(lo);
        (lo..hi).map(move |t| first + t * d)
    };
    let mut read = vec![false; n as usize];
    for o in 0..out_n as i128 {
        for p in taps(o) {
            read[p as usize] = true;
        }
    }
    if read.iter().any(|r| !r) {
        return Level::X;
    }
    match taps(out_n as i128 / 2).count() as i128 {
        c if c == n128 => Level::A,
        c if c > 1 => Level::M,
        _ => Level::O,
    }
}

fn pool(x: &Shape, attrs: &Attrs) -> Mixing {
    let mut m = Mixing::identity(x.rank());
    if x.rank() == 4 {
        let [w, s] = ["window", "stride"].map(|n| attrs.int_pair(n).unwrap_or([0, 0]));
        let (p, ceil) = (attrs.padding(), attrs.bool("ceil_mode"));
        for axis in 0..2 {
            m.set(1 + axis, 1 + axis, spatial_level(w[axis], s[axis], 1, x.0[1 + axis].as_int(), &p, axis, ceil));
        }
    }
    m
}

fn mean(r: usize, attrs: &Attrs, c: usize) -> Mixing {
    let axes: Vec<usize> = attrs.dims("axes").iter().filter_map(|d| d.as_int()).map(|a| if a < 0 { (a + r as i64) as usize } else { a as usize }).collect();
    let keep = attrs.bool("keepdims");
    let mut m = Mixing::filled(r, c, Level::X);
    let mut j = 0;
    for i in 0..r {
        if axes.contains(&i) {
            m.set_row(i, Level::A);
            if keep {
                j += 1;
            }
        } else if j < c {
            m.set(i, j, Level::O);
            j += 1;
        }
    }
    m
}

/// Reshape: dims equal at the front and back pass one-to-one; a middle group of input dims that
/// merges into one output dim is one-to-one into it; splits are left unpaired (a lower bound).
fn reshape(x: &Shape, y: &Shape) -> Mixing {
    let (r, c) = (x.rank(), y.rank());
    let mut m = Mixing::filled(r, c, Level::X);
    let mut front = 0;
    while front < r.min(c) && x.0[front] == y.0[front] {
        m.set(front, front, Level::O);
        front += 1;
    }
    let mut back = 0;
    while back < (r - front).min(c - front) && x.0[r - 1 - back] == y.0[c - 1 - back] {
        m.set(r - 1 - back, c - 1 - back, Level::O);
        back += 1;
    }
    if c - front - back == 1 {
        for i in front..r - back {
            m.set(i, front, Level::O);
        }
    }
    m
}

fn matmul(r: usize, c: usize, slot: usize) -> Mixing {
    let mut m = Mixing::filled(r, c, Level::X);
    // Batch dims, right-aligned.
    for k in 0..(r.min(c)).saturating_sub(2) {
        m.set(r - 3 - k, c - 3 - k, Level::O);
    }
    if r >= 2 && c >= 2 {
        if slot == 0 {
            m.set(r - 2, c - 2, Level::O);
            m.set_row(r - 1, Level::A);
        } else {
            m.set(r - 1, c - 1, Level::O);
            m.set_row(r - 2, Level::A);
        }
    }
    m
}

fn einsum(spec: &str, slot: usize, r: usize, c: usize) -> Mixing {
    let mut m = Mixing::filled(r, c, Level::X);
    let Some((lhs, out)) = spec.split_once("->") else { return m };
    let Some(letters) = lhs.split(',').nth(slot) else { return m };
    let out: Vec<char> = out.trim().chars().collect();
    for (i, ch) in letters.trim().chars().enumerate().take(r) {
        match out.iter().position(|o| *o == ch) {
            Some(j) if j < c => m.set(i, j, Level::O),
            Some(_) => {}
            None => m.set_row(i, Level::A),
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mx(rows: &[&str]) -> Mixing {
        let mut m = Mixing::filled(rows.len(), rows[0].len(), Level::X);
        for (i, r) in rows.iter().enumerate() {
            for (j, ch) in r.chars().enumerate() {
                m.set(i, j, Level::from_letter(ch).expect("letter"));
            }
        }
        m
    }

    #[test]
    fn semiring_product_follows_the_paper() {
        assert_eq!(Level::O.times(Level::M), Level::M);
        assert_eq!(Level::M.times(Level::A), Level::A);
        assert_eq!(Level::A.times(Level::X), Level::X);
        // dense then 3x3 conv on [B, H, W, C]
        let dense = mx(&["oxxx", "xoxx", "xxox", "aaaa"]);
        let conv = mx(&["oxxx", "xmxx", "xxmx", "aaaa"]);
        assert_eq!(dense.then(&conv), mx(&["oxxx", "xmxx", "xxmx", "aaaa"]));
    }

    #[test]
    fn shortfall_counts_cells_below_target() {
        let cur = mx(&["ox", "xo"]);
        let target = mx(&["ox", "aa"]);
        assert_eq!(cur.shortfall(&target), 2);
        assert!(target.at_least(&cur));
    }
}
