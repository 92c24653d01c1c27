// DenseNet blocks (Huang et al. 2017), as in torchvision's `densenet*`.

/// One dense layer: batch norm, ReLU, a 1×1 conv to 4·`growth`, batch norm, ReLU, a 3×3 conv
/// to `growth`; its output is concatenated to its input.
block DenseLayer(x: [B, H, W, C], growth: int = 32) -> [B, H, W, C + growth] {
    let y = x
        |> batch_norm
        |> relu
        |> conv(4 * growth, kernel: 1, bias: false)
        |> batch_norm
        |> relu
        |> conv(growth, kernel: 3, bias: false)
    return concat([x, y], axis: 3)
}

/// Between dense blocks: batch norm, ReLU, a 1×1 conv halving the channels, 2×2 average pool.
block Transition(x: [B, H, W, C]) -> [B, H / 2, W / 2, C / 2] {
    return x |> batch_norm |> relu |> conv(C / 2, kernel: 1, bias: false) |> avg_pool(2)
}
