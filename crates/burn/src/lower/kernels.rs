//! Tensor kernels that only need burn. `nasc build --emit rust` copies this file into the
//! generated source, so generated modules compute exactly what the lowered module computes.

use burn::tensor::Tensor;

/// The rank every activation is carried at in the lowered module (the language's logical shape
/// right-aligned with leading 1s).
pub const RANK: usize = 6;

/// Two-operand einsum as one batched matmul: batch letters (in both operands and the output),
/// left letters (first operand and output), right letters (second operand and output), and
/// contracted letters (both operands, not the output).
pub fn einsum(spec: &str, a: Tensor<RANK>, b: Tensor<RANK>, out: [usize; RANK]) -> Tensor<RANK> {
    let Some((lhs, out_l)) = spec.split_once("->") else { return a };
    let ops: Vec<Vec<char>> = lhs.split(',').map(|s| s.trim().chars().collect()).collect();
    let out_l: Vec<char> = out_l.trim().chars().collect();
    let (la, lb) = (&ops[0], &ops[1]);
    let batch: Vec<char> = out_l.iter().copied().filter(|c| la.contains(c) && lb.contains(c)).collect();
    let left: Vec<char> = out_l.iter().copied().filter(|c| la.contains(c) && !lb.contains(c)).collect();
    let right: Vec<char> = out_l.iter().copied().filter(|c| lb.contains(c) && !la.contains(c)).collect();
    let contr: Vec<char> = la.iter().copied().filter(|c| lb.contains(c) && !out_l.contains(c)).collect();
    let size = |t: &Tensor<RANK>, letters: &[char], ch: char| t.dims()[RANK - letters.len() + letters.iter().position(|c| *c == ch).unwrap_or(0)];
    let prod = |t: &Tensor<RANK>, letters: &[char], group: &[char]| group.iter().map(|&c| size(t, letters, c)).product::<usize>();
    let arrange = |t: Tensor<RANK>, letters: &[char], order: &[char]| {
        let off = RANK - letters.len();
        let mut perm: [usize; RANK] = std::array::from_fn(|k| k);
        for (j, ch) in order.iter().enumerate() {
            perm[off + j] = off + letters.iter().position(|c| c == ch).unwrap_or(0);
        }
        t.permute(perm)
    };
    let (pb, pl, pk, pr) = (prod(&a, la, &batch), prod(&a, la, &left), prod(&a, la, &contr), prod(&b, lb, &right));
    let a_order: Vec<char> = batch.iter().chain(&left).chain(&contr).copied().collect();
    let b_order: Vec<char> = batch.iter().chain(&contr).chain(&right).copied().collect();
    let a3 = arrange(a, la, &a_order).reshape([1, 1, 1, pb, pl, pk]);
    let b3 = arrange(b, lb, &b_order).reshape([1, 1, 1, pb, pk, pr]);
    let y = a3.matmul(b3);
    // [batch..., left..., right...] then into the output's letter order.
    let grouped: Vec<char> = batch.iter().chain(&left).chain(&right).copied().collect();
    let mut gshape = [1usize; RANK];
    let off = RANK - grouped.len();
    for (j, ch) in grouped.iter().enumerate() {
        let k = out_l.iter().position(|c| c == ch).unwrap_or(0);
        gshape[off + j] = out[RANK - out_l.len() + k];
    }
    let y = y.reshape(gshape);
    let mut perm: [usize; RANK] = std::array::from_fn(|k| k);
    for (j, ch) in out_l.iter().enumerate() {
        perm[off + j] = off + grouped.iter().position(|c| c == ch).unwrap_or(0);
    }
    y.permute(perm)
}
