// expect: E0302 3:17 height 7 is not divisible by 2
model M(x: [B, 7, 7, 3]) -> [B, 4, 4, 8] {
    return x |> conv(8, kernel: 3, stride: 2)
}
