// MobileNetV2, exactly torchvision's `mobilenet_v2`: a stride-2 stem, seventeen inverted
// bottlenecks, a 1×1 head conv to 1280, global average pool, dropout 0.2 and dense 1000.
// 3,504,872 parameters.
use std.mobilenet

model MobileNetV2(x: [B, 224, 224, 3], classes: int = 1000) -> [B, classes] {
    let y = x |> conv(32, kernel: 3, stride: 2, padding: 1, bias: false) |> batch_norm |> relu6
    let y = y |> DepthwiseBottleneck(16)
    let y = y |> InvertedBottleneck(24, stride: 2) |> InvertedResidual
    let y = y |> InvertedBottleneck(32, stride: 2) |> InvertedResidual * 2
    let y = y |> InvertedBottleneck(64, stride: 2) |> InvertedResidual * 3
    let y = y |> InvertedBottleneck(96) |> InvertedResidual * 2
    let y = y |> InvertedBottleneck(160, stride: 2) |> InvertedResidual * 2
    let y = y |> InvertedBottleneck(320)
    let y = y |> conv(1280, kernel: 1, bias: false) |> batch_norm |> relu6
    return y |> mean(axes: [1, 2]) |> dropout(0.2) |> dense(classes)
}
