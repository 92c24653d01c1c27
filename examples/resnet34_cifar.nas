// ResNet-34 for CIFAR-10, as in the αNAS paper's CIFAR experiments (kuangliu/pytorch-cifar):
// a 3×3 stem conv, no max-pool, basic blocks [3, 4, 6, 3] at 64/128/256/512 channels with 1×1
// projection shortcuts, global average pool, dense 10. 21,282,122 parameters.
use std.resnet

model ResNet34Cifar(x: [B, 32, 32, 3], classes: int = 10) -> [B, classes] {
    let y = x |> conv(64, kernel: 3, bias: false) |> batch_norm |> relu
    let y = y |> BasicBlock * 3
    let y = y |> BasicBlockDown(128) |> BasicBlock * 3
    let y = y |> BasicBlockDown(256) |> BasicBlock * 5
    let y = y |> BasicBlockDown(512) |> BasicBlock * 2
    return y |> mean(axes: [1, 2]) |> dense(classes)
}
