// A conv block with downsampling left to the compiler: halve the spatial dims, double the
// channels, mix like a conv, depth at least 2.
use std.cnn

block DownHole(x: [B, H, W, C]) -> [B, H / 2, W / 2, C * 2] {
    return ?<depth >= 2, mixing >= conv>(x)
}

model Cnn(x: [B, 32, 32, 3], classes: int = 10) -> [B, classes] {
    let y = x |> ConvBnRelu(16)
    let y = y |> DownHole |> DownHole
    return y |> mean(axes: [1, 2]) |> dense(classes)
}
