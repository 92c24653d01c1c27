// A small CNN for the bundled 8×8 digits: two 3×3 conv blocks, a 2×2 max pool, dense 10.
use std.cnn

model CnnDigits(x: [B, 8, 8, 1], classes: int = 10) -> [B, classes] {
    let y = x |> ConvBnRelu(32) |> ConvBnRelu(64) |> max_pool(2)
    return y |> flatten |> dropout(0.25) |> dense(classes)
}
