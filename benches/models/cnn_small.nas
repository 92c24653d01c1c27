// The PyTorch reference's `cnn_small` (../shared/bench/torch_reference.py).

model CnnSmall(x: [B, 32, 32, 3], classes: int = 10) -> [B, classes] {
    let y = x |> conv(16, kernel: 3) |> relu |> max_pool(2)
    let y = y |> conv(32, kernel: 3) |> relu |> max_pool(2)
    return y |> mean(axes: [1, 2]) |> dense(classes)
}
