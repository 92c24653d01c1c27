// The PyTorch reference's `dwsep_cifar` (MobileNet-style): a 3×3 stem, then depthwise-separable
// blocks (depthwise 3×3, pointwise 1×1, each with batch norm and ReLU) to 64, 128 (stride 2), 128,
// 256 (stride 2), 256, global average, dense 10. 136,778 parameters, as in torch.

block DwSep(x: [B, H, W, C], out: int, stride: int = 1) -> [B, H / stride, W / stride, out] {
    return x
        |> conv(C, kernel: 3, stride: stride, groups: C, bias: false)
        |> batch_norm
        |> relu
        |> conv(out, kernel: 1, bias: false)
        |> batch_norm
        |> relu
}

model DwSepCifar(x: [B, 32, 32, 3], classes: int = 10) -> [B, classes] {
    let y = x |> conv(32, kernel: 3, bias: false) |> batch_norm |> relu
    let y = y |> DwSep(64) |> DwSep(128, stride: 2) |> DwSep(128) |> DwSep(256, stride: 2) |> DwSep(256)
    return y |> mean(axes: [1, 2]) |> dense(classes)
}
