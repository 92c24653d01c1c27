// A hole with two inputs: fuse a feature map with the half-resolution, double-width map the
// next stage made from it (as a feature pyramid or a U-Net does), leaving the sub-network to
// the compiler. Each input gets its own chain to a common shape, a junction joins them (a sum,
// or a concatenation of channels), and the constraints hold from both inputs.
use std.cnn

block Fuse(fine: [B, H, W, C], coarse: [B, H / 2, W / 2, C * 2]) -> [B, H / 2, W / 2, C * 2] {
    return ?<depth >= 2, mixing >= conv>(fine, coarse)
}

model FuseNet(x: [B, 32, 32, 3], classes: int = 10) -> [B, classes] {
    let fine = x |> ConvBnRelu(16)
    let coarse = fine |> max_pool(2) |> ConvBnRelu(32)
    return Fuse(fine, coarse) |> mean(axes: [1, 2]) |> dense(classes)
}
