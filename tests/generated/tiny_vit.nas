// A tiny ViT for the generated-Rust test: patch conv, learned positions, one encoder block
// (attention through einsum, layer norm, residuals, GELU MLP), group norm and mean pooling.
use std.vit

model TinyVit(x: [B, 8, 8, 3], classes: int = 10) -> [B, classes] {
    let p = x |> conv(16, kernel: 4, stride: 4) |> group_norm(4) |> reshape([B, 4, 16])
    let y = p + param([1, 4, 16])
    let y = y |> EncoderBlock(heads: 2, hidden: 32) |> layer_norm
    return y |> mean(axes: [1]) |> dense(classes) |> softmax(axis: -1)
}
