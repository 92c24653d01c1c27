// ResNet blocks (He et al., "Deep Residual Learning for Image Recognition", 2016).
// Convolutions feeding a batch norm have no bias, as in torchvision, and strided 3×3 convs
// pad 1 on every side as torchvision does (SAME would pad 0 before and 1 after on even sizes).

/// Basic block: two 3×3 convs and an identity shortcut; keeps the shape.
block BasicBlock(x: [B, H, W, C]) -> [B, H, W, C] {
    let y = x
        |> conv(C, kernel: 3, bias: false)
        |> batch_norm
        |> relu
        |> conv(C, kernel: 3, bias: false)
        |> batch_norm
    return relu(x + y)
}

/// Basic block that changes the width to `out` and downsamples by `stride`, with a 1×1
/// projection shortcut.
block BasicBlockDown(x: [B, H, W, C], out: int, stride: int = 2) -> [B, H / stride, W / stride, out] {
    let y = x
        |> conv(out, kernel: 3, stride: stride, padding: 1, bias: false)
        |> batch_norm
        |> relu
        |> conv(out, kernel: 3, bias: false)
        |> batch_norm
    let shortcut = x |> conv(out, kernel: 1, stride: stride, bias: false) |> batch_norm
    return relu(shortcut + y)
}

/// Bottleneck block (torchvision ResNet v1.5): 1×1 down to C/4, 3×3, 1×1 back up; identity
/// shortcut.
block Bottleneck(x: [B, H, W, C]) -> [B, H, W, C] {
    let y = x
        |> conv(C / 4, kernel: 1, bias: false)
        |> batch_norm
        |> relu
        |> conv(C / 4, kernel: 3, bias: false)
        |> batch_norm
        |> relu
        |> conv(C, kernel: 1, bias: false)
        |> batch_norm
    return relu(x + y)
}

/// Bottleneck block with a projection shortcut: `width` inner channels, `width * 4` out, the
/// stride on the 3×3 conv (torchvision ResNet v1.5).
block BottleneckDown(x: [B, H, W, C], width: int, stride: int = 2) -> [B, H / stride, W / stride, width * 4] {
    let y = x
        |> conv(width, kernel: 1, bias: false)
        |> batch_norm
        |> relu
        |> conv(width, kernel: 3, stride: stride, padding: 1, bias: false)
        |> batch_norm
        |> relu
        |> conv(width * 4, kernel: 1, bias: false)
        |> batch_norm
    let shortcut = x |> conv(width * 4, kernel: 1, stride: stride, bias: false) |> batch_norm
    return relu(shortcut + y)
}
