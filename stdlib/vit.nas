// Vision Transformer blocks (Dosovitskiy et al. 2021), as in timm's `vit_*` models.
use std.mlp

/// Multi-head self-attention. The q, k and v projections are three dense layers, which has
/// exactly the parameters of timm's fused `qkv` layer. `temperature` is 1/sqrt(D/heads)
/// (0.125 for 64-wide heads).
block Attention(x: [B, N, D], heads: int, temperature: float = 0.125) -> [B, N, D] {
    let q = x |> dense(D) |> reshape([B, N, heads, D / heads])
    let k = x |> dense(D) |> reshape([B, N, heads, D / heads])
    let v = x |> dense(D) |> reshape([B, N, heads, D / heads])
    let a = einsum(q, k, spec: "bnhd,bmhd->bhnm") |> scale(temperature) |> softmax(axis: -1)
    let y = einsum(a, v, spec: "bhnm,bmhd->bnhd") |> reshape([B, N, D])
    return y |> dense(D)
}

/// Pre-norm transformer encoder block: attention and MLP, each with a residual.
block EncoderBlock(x: [B, N, D], heads: int, hidden: int) -> [B, N, D] {
    let y = x + (x |> layer_norm |> Attention(heads))
    return y + (y |> layer_norm |> Mlp(hidden))
}
