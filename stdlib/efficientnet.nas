// EfficientNet blocks (Tan & Le 2019), as in torchvision's `efficientnet_b*`.

/// Squeeze-and-excitation: global average, 1×1 conv to `squeeze`, SiLU, 1×1 conv back,
/// sigmoid, and a channel-wise rescale of the input.
block SqueezeExcite(x: [B, H, W, C], squeeze: int) -> [B, H, W, C] {
    let s = x
        |> mean(axes: [1, 2], keepdims: true)
        |> conv(squeeze, kernel: 1)
        |> silu
        |> conv(C, kernel: 1)
        |> sigmoid
    return x * s
}

/// MBConv with expansion 1 (the first stage): depthwise conv, squeeze-excite, projection.
block MBConv1(x: [B, H, W, C], out: int, kernel: int = 3) -> [B, H, W, out] {
    return x
        |> conv(C, kernel: kernel, groups: C, bias: false)
        |> batch_norm
        |> silu
        |> SqueezeExcite(squeeze: C / 4)
        |> conv(out, kernel: 1, bias: false)
        |> batch_norm
}

/// Inverted bottleneck: 1×1 expansion by `expand`, depthwise conv with `stride`,
/// squeeze-excite to C/4, 1×1 projection to `out`.
block MBConv(x: [B, H, W, C], out: int, kernel: int, stride: int = 1, expand: int = 6) -> [B, H / stride, W / stride, out] {
    return x
        |> conv(C * expand, kernel: 1, bias: false)
        |> batch_norm
        |> silu
        |> conv(C * expand, kernel: kernel, stride: stride, padding: (kernel - 1) / 2, groups: C * expand, bias: false)
        |> batch_norm
        |> silu
        |> SqueezeExcite(squeeze: C / 4)
        |> conv(out, kernel: 1, bias: false)
        |> batch_norm
}

/// MBConv that keeps the shape, with a residual connection.
block MBConvResidual(x: [B, H, W, C], kernel: int, expand: int = 6) -> [B, H, W, C] {
    return x + MBConv(x, C, kernel: kernel, expand: expand)
}
