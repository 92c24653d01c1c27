// expect: E0206 6:18 `eps` must be a positive number, found 0
// expect: E0206 7:18 `momentum` must be in [0, 1], found 1.5
// expect: E0206 8:18 `eps` must be a positive number, found -0.001
// Norms take PyTorch's `eps` (and batch norm's `momentum`); average pools may count padding.
model M(x: [B, 8, 8, 4]) -> [B, 8, 8, 4] {
    let a = x |> batch_norm(eps: 0.0)
    let b = x |> batch_norm(eps: 0.001, momentum: 1.5)
    let c = x |> group_norm(groups: 2, eps: -0.001)
    let d = x |> layer_norm(eps: 1e-6) |> avg_pool(3, stride: 1, padding: 1, count_include_pad: false)
    return a + b + c + d
}
