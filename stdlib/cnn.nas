// Small convolutional blocks.

/// 3×3 conv, batch norm, ReLU.
block ConvBnRelu(x: [B, H, W, C], features: int, kernel: int = 3) -> [B, H, W, features] {
    return x |> conv(features, kernel: kernel, bias: false) |> batch_norm |> relu
}

/// The αNAS CIFAR CNN's block (`conv_layer`): a 3×3 conv doubling the channels, ReLU and a
/// 2×2 average pool.
block ConvLayer(x: [B, H, W, C]) -> [B, H / 2, W / 2, C * 2] {
    return x |> conv(C * 2, kernel: 3) |> relu |> avg_pool(2)
}
