// The αNAS paper's small CIFAR-10 CNN (the authors' `CifarNet`): a 1×1 stem conv to 32,
// two `ConvLayer` blocks (3×3 conv doubling the channels, ReLU, 2×2 average pool),
// then flatten, dense 256, ReLU, dense 10. The blocks are what evolution mutates.
use std.cnn

model Cnn2(x: [B, 32, 32, 3], classes: int = 10) -> [B, classes] {
    let y = x |> conv(32, kernel: 1)
    let y = y |> ConvLayer * 2
    return y |> flatten |> dense(256) |> relu |> dense(classes)
}
