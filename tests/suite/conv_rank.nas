// expect: E0303 3:17 `conv` expects a rank-4 input [B, H, W, C], found rank 2 [B, 64]
model M(x: [B, 64]) -> [B, 8] {
    return x |> conv(8, kernel: 3)
}
