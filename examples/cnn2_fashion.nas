// The weak seed of the paper's first CIFAR-10 case study (αNAS §6.1.1: 81.3 % → 89.6 %), sized
// for 28×28 Fashion-MNIST: the authors' `CifarNet` — a 1×1 stem conv, two `ConvLayer` blocks
// (3×3 conv doubling the channels, ReLU, 2×2 average pool), flatten, dense 128, ReLU, dense 10.
// The paper's text says "with residual connections", the authors' code has none; this follows
// the code (see ALPHA-NAS-REFERENCE-CODE.md §CNN). The blocks are what evolution mutates.
use std.cnn

model Cnn2Fashion(x: [B, 28, 28, 1], classes: int = 10) -> [B, classes] {
    let y = x |> conv(16, kernel: 1)
    let y = y |> ConvLayer * 2
    return y |> flatten |> dense(128) |> relu |> dense(classes)
}
