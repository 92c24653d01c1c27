// ConvNeXt-T, exactly torchvision's `convnext_tiny` in parameters and MACs: a 4×4 stride-4
// patch stem, stages of 3, 3, 9 and 3 blocks at 96, 192, 384 and 768 channels, global average
// pool, layer norm and dense 1000. 28,589,128 parameters. torchvision's stochastic depth grows
// linearly from 0 to 0.1 block by block; here each stage uses the rate of its middle block.
use std.convnext

model ConvNeXtTiny(x: [B, 224, 224, 3], classes: int = 1000) -> [B, classes] {
    let y = x |> conv(96, kernel: 4, stride: 4) |> layer_norm(eps: 1e-6)
    let y = y |> ConvNeXtBlock(rate: 0.006) * 3
    let y = y |> ConvNeXtDownsample(192) |> ConvNeXtBlock(rate: 0.024) * 3
    let y = y |> ConvNeXtDownsample(384) |> ConvNeXtBlock(rate: 0.059) * 9
    let y = y |> ConvNeXtDownsample(768) |> ConvNeXtBlock(rate: 0.094) * 3
    return y |> mean(axes: [1, 2]) |> layer_norm(eps: 1e-6) |> dense(classes)
}
