// DenseNet-121, exactly torchvision's `densenet121`: a 7×7 stride-2 stem with torchvision's
// padding 3 and a padded 3×3 max pool, dense blocks of 6, 12, 24 and 16 layers (growth 32)
// joined by transitions, a final batch norm and ReLU, global average pool and dense 1000.
// 7,978,856 parameters.
use std.densenet

model DenseNet121(x: [B, 224, 224, 3], classes: int = 1000) -> [B, classes] {
    let y = x
        |> conv(64, kernel: 7, stride: 2, padding: 3, bias: false)
        |> batch_norm
        |> relu
        |> max_pool(3, stride: 2, padding: 1)
    let y = y |> DenseLayer * 6 |> Transition
    let y = y |> DenseLayer * 12 |> Transition
    let y = y |> DenseLayer * 24 |> Transition
    let y = y |> DenseLayer * 16 |> batch_norm |> relu
    return y |> mean(axes: [1, 2]) |> dense(classes)
}
