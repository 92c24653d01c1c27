// The αNAS paper's Fig. 1 mutation: the MLP of a ViT encoder block (dense · gelu · dense,
// depth 2) replaced by a hole that must be at least twice as deep and keep the shape.
use std.vit

block EncoderBlockHole(x: [B, N, D], heads: int) -> [B, N, D] {
    let y = x + (x |> layer_norm |> Attention(heads))
    return y + (y |> layer_norm |> ?<depth >= 4, mixing >= dense>)
}

model TinyVit(x: [B, 32, 32, 3], classes: int = 10) -> [B, classes] {
    let patches = x |> conv(64, kernel: 4, stride: 4) |> reshape([B, 64, 64])
    let y = patches + param([1, 64, 64])
    let y = y |> EncoderBlockHole(heads: 2) * 4 |> layer_norm
    return y |> mean(axes: [1]) |> dense(classes)
}
