// A small CNN for 28×28 MNIST digits (use with `--data mnist:data/mnist5k` for the bundled 5k subset).
use std.cnn

model CnnMnist(x: [B, 28, 28, 1], classes: int = 10) -> [B, classes] {
    let y = x |> ConvBnRelu(16) |> max_pool(2)
    let y = y |> ConvBnRelu(32) |> max_pool(2)
    return y |> flatten |> dropout(0.25) |> dense(classes)
}
