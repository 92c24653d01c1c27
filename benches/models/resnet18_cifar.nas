// The PyTorch reference's `resnet18_cifar`: basic blocks [2, 2, 2, 2] at 64/128/256/512.
use std.resnet

model ResNet18Cifar(x: [B, 32, 32, 3], classes: int = 10) -> [B, classes] {
    let y = x |> conv(64, kernel: 3, bias: false) |> batch_norm |> relu
    let y = y |> BasicBlock * 2
    let y = y |> BasicBlockDown(128) |> BasicBlock
    let y = y |> BasicBlockDown(256) |> BasicBlock
    let y = y |> BasicBlockDown(512) |> BasicBlock
    return y |> mean(axes: [1, 2]) |> dense(classes)
}
