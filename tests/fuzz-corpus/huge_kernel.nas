// a kernel and dilation whose reach overflows i64 in the locality computation
model M(x: [B, 64, 64, 4]) -> [B, 64, 64, 4] { return x |> conv(4, kernel: 4611686018427387903, dilation: 4611686018427387903) }
