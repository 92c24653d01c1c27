// ViT-S/16, exactly timm's `vit_small_patch16_224`: 16×16 patches, a class token, learned
// position embeddings, 12 pre-norm encoder blocks of width 384 with 6 heads and MLP 1536,
// a final layer norm, and the head on the class token. 22,050,664 parameters.
use std.vit

model VitS16(x: [B, 224, 224, 3], classes: int = 1000) -> [B, classes] {
    let patches = x |> conv(384, kernel: 16, stride: 16) |> reshape([B, 196, 384])
    let cls = param([1, 1, 384]) |> broadcast([B, 1, 384])
    let y = concat([cls, patches], axis: 1) + param([1, 197, 384])
    let y = y |> EncoderBlock(heads: 6, hidden: 1536) * 12 |> layer_norm
    return y |> select(axis: 1, index: 0) |> dense(classes)
}
