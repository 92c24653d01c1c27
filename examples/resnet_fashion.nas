// A small ResNet for 28×28 Fashion-MNIST, the seed of the search comparison
// (`nasc evolve examples/resnet_fashion.nas --data fashion:../shared/data/fashion`): a 3×3 stem,
// three stages of basic blocks at 16, 32 and 64 channels (28×28, 14×14, 7×7), global average
// pool and dense 10. Under 200k parameters.
use std.resnet

model ResNetFashion(x: [B, 28, 28, 1], classes: int = 10) -> [B, classes] {
    let y = x |> conv(16, kernel: 3, bias: false) |> batch_norm |> relu
    let y = y |> BasicBlock
    let y = y |> BasicBlockDown(32) |> BasicBlock
    let y = y |> BasicBlockDown(64) |> BasicBlock
    return y |> mean(axes: [1, 2]) |> dense(classes)
}
