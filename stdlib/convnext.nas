// ConvNeXt blocks (Liu et al. 2022), as in torchvision's `convnext_*`.

/// 7×7 depthwise conv, layer norm (eps 1e-6, as torchvision), a 4× MLP with GELU, a learned
/// per-channel scale (layer scale), stochastic depth at `rate`, and the residual.
block ConvNeXtBlock(x: [B, H, W, C], rate: float = 0.0) -> [B, H, W, C] {
    let y = x
        |> conv(C, kernel: 7, groups: C)
        |> layer_norm(eps: 1e-6)
        |> dense(C * 4)
        |> gelu
        |> dense(C)
    return x + (y * param([C]) |> drop_path(rate))
}

/// Between stages: layer norm, then a 2×2 stride-2 conv to `out` channels.
block ConvNeXtDownsample(x: [B, H, W, C], out: int) -> [B, H / 2, W / 2, out] {
    return x |> layer_norm(eps: 1e-6) |> conv(out, kernel: 2, stride: 2)
}
