//! Weight inheritance (`--inherit`, as in large-scale evolution and LEMONADE): a child starts
//! from its parent's trained weights for every layer the mutation left unchanged, fresh
//! initialisation elsewhere.
//!
//! "Unchanged" is decided on the lowered layers in graph order: each layer's key is its op with
//! its attributes and shapes (its `LayerDesc`), and the child's and the parent's key sequences
//! are aligned as a diff aligns lines (common prefix and suffix, then a longest common
//! subsequence of the middle). A mutation rewrites one contiguous region, duplicates or deletes
//! a call, so everything outside the change aligns and keeps its place; a layer inside it
//! starts fresh even when an equal layer exists elsewhere.

use burn::module::Module;
use nasc_burn::lower::{Net, describe};
use nasc_core::ir::{Graph, NodeKind};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where a child inherits from: its parent's source and trained weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inheritance {
    pub source: String,
    pub weights: PathBuf,
}

/// The trained weights of candidate `id` in a run's weights directory: burn's record, or
/// safetensors named as `--emit torch`'s module names them (`--weights-format safetensors`).
pub fn weights_path(dir: &Path, id: i64, safetensors: bool) -> PathBuf {
    dir.join(format!("{id}.{}", if safetensors { "safetensors" } else { "bpk" }))
}

/// The directory beside a store that keeps its candidates' trained weights.
pub fn weights_dir(store: &Path) -> PathBuf {
    store.with_extension("weights")
}

/// Above this many cells (child layers × parent layers in the changed middle) the alignment
/// keeps only the common prefix and suffix.
const MAX_CELLS: usize = 1 << 22;

/// One key per node: equal keys mean the same op, attributes and shapes, so interchangeable
/// weights.
fn keys(g: &Graph) -> Vec<String> {
    g.nodes
        .iter()
        .map(|n| match &n.kind {
            NodeKind::Op { op, attrs } => {
                let shape = |ts: &[usize]| ts.iter().map(|&t| g.shape(t).0.clone()).collect::<Vec<_>>();
                let (ins, outs) = (shape(&n.inputs), shape(&n.outputs));
                match describe(*op, attrs, &ins, &outs) {
                    Ok(d) => format!("{d:?} {ins:?} {outs:?}"),
                    Err(_) => format!("{op:?} {ins:?} {outs:?} (not lowerable)"),
                }
            }
            NodeKind::Hole(_) => "hole".to_string(),
        })
        .collect()
}

/// Index pairs (in `a`, in `b`) of equal keys, in order: the common prefix, the common suffix
/// and a longest common subsequence of what lies between.
pub fn align(a: &[String], b: &[String]) -> Vec<(usize, usize)> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut pairs: Vec<(usize, usize)> = (0..prefix).map(|k| (k, k)).collect();
    if ma.len().saturating_mul(mb.len()) <= MAX_CELLS {
        pairs.extend(lcs(ma, mb).into_iter().map(|(i, j)| (prefix + i, prefix + j)));
    }
    pairs.extend((0..suffix).rev().map(|k| (a.len() - 1 - k, b.len() - 1 - k)));
    pairs
}

/// A longest common subsequence by dynamic programming, ties broken towards earlier pairs.
fn lcs(a: &[String], b: &[String]) -> Vec<(usize, usize)> {
    let (n, m) = (a.len(), b.len());
    // len[i][j]: LCS length of a[i..] and b[j..].
    let mut len = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[at(i, j)] = if a[i] == b[j] { len[at(i + 1, j + 1)] + 1 } else { len[at(i + 1, j)].max(len[at(i, j + 1)]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if a[i] == b[j] {
            out.push((i, j));
            (i, j) = (i + 1, j + 1);
        } else if len[at(i + 1, j)] >= len[at(i, j + 1)] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Copy the parent's trained layers into `child` wherever the alignment pairs them; returns
/// the number of the child's parameters inherited.
pub fn inherit(child: &mut Net, child_graph: &Graph, from: &Inheritance, device: &burn::tensor::Device) -> Result<usize, crate::TrainFailure> {
    let parent_c = super::source::compile(&from.source).map_err(|f| format!("the parent does not check: {}", f.first_message()))?;
    let parent_graph = &parent_c.model(None).map_err(|f| f.first_message())?.graph;
    let parent = nasc_burn::lower::lower(parent_graph, device).map_err(|e| format!("cannot lower the parent: {e}"))?;
    let parent = nasc_burn::interop::weights::load_file(parent, &from.weights, nasc_burn::interop::weights::MatchBy::Name)
        .map_err(|e| format!("the parent's weights: {e}"))?;
    let mut inherited = 0;
    for (i, j) in align(&keys(child_graph), &keys(parent_graph)) {
        if parent.layers[j].num_params() > 0 {
            child.layers[i] = parent.layers[j].clone();
            inherited += child.layer_trainable_params(i);
        }
    }
    Ok(inherited)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(s: &str) -> Vec<String> {
        s.chars().map(String::from).collect()
    }

    #[test]
    fn alignment_keeps_what_is_outside_the_change() {
        // A region rewritten in the middle: prefix and suffix kept in place.
        assert_eq!(align(&strs("abXYef"), &strs("abcdef")), vec![(0, 0), (1, 1), (4, 4), (5, 5)]);
        // A duplicated call: every parent layer pairs with one child layer, in order.
        let pairs = align(&strs("abcbcd"), &strs("abcd"));
        assert_eq!(pairs.len(), 4);
        assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
        // A deleted call.
        assert_eq!(align(&strs("ad"), &strs("abcd")), vec![(0, 0), (1, 3)]);
        assert_eq!(align(&strs("abc"), &strs("abc")), vec![(0, 0), (1, 1), (2, 2)]);
        assert!(align(&strs("xyz"), &strs("abc")).is_empty());
        assert_eq!(align(&[], &strs("a")), vec![]);
    }
}
