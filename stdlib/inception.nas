// Inception v3 blocks (Szegedy et al. 2016), as in torchvision's `inception_v3`: every conv is
// torchvision's BasicConv2d (no bias, batch norm with eps 0.001, ReLU).

/// torchvision's BasicConv2d after its conv: batch norm with eps 0.001, then ReLU.
block BnRelu(x: [B, H, W, C]) -> [B, H, W, C] {
    return x |> batch_norm(eps: 0.001) |> relu
}

/// InceptionC: the 17×17 block of Inception v3, whose 7×7 convs are factorised into a 1×7 then
/// a 7×1 (one branch), or twice (another); 4 branches of 192 channels concatenated.
block InceptionC(x: [B, H, W, C], c7: int) -> [B, H, W, 768] {
    let b1 = x |> conv(192, kernel: 1, bias: false) |> BnRelu
    let b7 = x
        |> conv(c7, kernel: 1, bias: false)
        |> BnRelu
        |> conv(c7, kernel: [1, 7], padding: [0, 3], bias: false)
        |> BnRelu
        |> conv(192, kernel: [7, 1], padding: [3, 0], bias: false)
        |> BnRelu
    let b7dbl = x
        |> conv(c7, kernel: 1, bias: false)
        |> BnRelu
        |> conv(c7, kernel: [7, 1], padding: [3, 0], bias: false)
        |> BnRelu
        |> conv(c7, kernel: [1, 7], padding: [0, 3], bias: false)
        |> BnRelu
        |> conv(c7, kernel: [7, 1], padding: [3, 0], bias: false)
        |> BnRelu
        |> conv(192, kernel: [1, 7], padding: [0, 3], bias: false)
        |> BnRelu
    let pool = x
        |> avg_pool(3, stride: 1, padding: 1)
        |> conv(192, kernel: 1, bias: false)
        |> BnRelu
    return concat([b1, b7, b7dbl, pool], axis: 3)
}
