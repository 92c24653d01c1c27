// ResNet-50 for ImageNet, exactly torchvision's `resnet50` (v1.5: stride on the 3×3 conv).
// 25,557,032 parameters, 4.09 G multiply-accumulates per 224×224 image.
use std.resnet

model ResNet50(x: [B, 224, 224, 3], classes: int = 1000) -> [B, classes] {
    let y = x
        |> conv(64, kernel: 7, stride: 2, padding: 3, bias: false)
        |> batch_norm
        |> relu
        |> max_pool(3, stride: 2, padding: 1)
    let y = y |> BottleneckDown(64, stride: 1) |> Bottleneck * 2
    let y = y |> BottleneckDown(128) |> Bottleneck * 3
    let y = y |> BottleneckDown(256) |> Bottleneck * 5
    let y = y |> BottleneckDown(512) |> Bottleneck * 2
    return y |> mean(axes: [1, 2]) |> dense(classes)
}
