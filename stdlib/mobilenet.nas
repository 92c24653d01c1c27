// MobileNetV2 blocks (Sandler et al. 2018), as in torchvision's `mobilenet_v2`.

/// The first bottleneck (expansion 1): 3×3 depthwise conv, ReLU6, linear 1×1 projection.
block DepthwiseBottleneck(x: [B, H, W, C], out: int) -> [B, H, W, out] {
    return x
        |> conv(C, kernel: 3, groups: C, bias: false)
        |> batch_norm
        |> relu6
        |> conv(out, kernel: 1, bias: false)
        |> batch_norm
}

/// Inverted bottleneck: 1×1 expansion by `expand`, 3×3 depthwise conv with `stride`, each
/// followed by ReLU6, then a linear 1×1 projection to `out`.
block InvertedBottleneck(x: [B, H, W, C], out: int, stride: int = 1, expand: int = 6) -> [B, H / stride, W / stride, out] {
    return x
        |> conv(C * expand, kernel: 1, bias: false)
        |> batch_norm
        |> relu6
        |> conv(C * expand, kernel: 3, stride: stride, padding: 1, groups: C * expand, bias: false)
        |> batch_norm
        |> relu6
        |> conv(out, kernel: 1, bias: false)
        |> batch_norm
}

/// An inverted bottleneck that keeps the shape, with a residual connection.
block InvertedResidual(x: [B, H, W, C], expand: int = 6) -> [B, H, W, C] {
    return x + InvertedBottleneck(x, C, expand: expand)
}
