// EfficientNet-B0, exactly torchvision's `efficientnet_b0`: a stride-2 stem, seven MBConv
// stages, a 1×1 head conv to 1280, global average pool, dropout 0.2 and dense 1000.
// 5,288,548 parameters.
use std.efficientnet

model EfficientNetB0(x: [B, 224, 224, 3], classes: int = 1000) -> [B, classes] {
    let y = x |> conv(32, kernel: 3, stride: 2, padding: 1, bias: false) |> batch_norm |> silu
    let y = y |> MBConv1(16)
    let y = y |> MBConv(24, kernel: 3, stride: 2) |> MBConvResidual(kernel: 3)
    let y = y |> MBConv(40, kernel: 5, stride: 2) |> MBConvResidual(kernel: 5)
    let y = y |> MBConv(80, kernel: 3, stride: 2) |> MBConvResidual(kernel: 3) * 2
    let y = y |> MBConv(112, kernel: 5) |> MBConvResidual(kernel: 5) * 2
    let y = y |> MBConv(192, kernel: 5, stride: 2) |> MBConvResidual(kernel: 5) * 3
    let y = y |> MBConv(320, kernel: 3)
    let y = y |> conv(1280, kernel: 1, bias: false) |> batch_norm |> silu
    return y |> mean(axes: [1, 2]) |> dropout(0.2) |> dense(classes)
}
