// Multi-layer perceptron blocks.

/// Transformer MLP: dense to `hidden`, GELU, dense back to the input width.
block Mlp(x: [B, N, D], hidden: int) -> [B, N, D] {
    return x |> dense(hidden) |> gelu |> dense(D)
}

/// Dense layer with ReLU.
block DenseRelu(x: [B, C], features: int) -> [B, features] {
    return x |> dense(features) |> relu
}
