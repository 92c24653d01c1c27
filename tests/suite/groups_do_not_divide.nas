// expect: E0302 3:17 input channels 6 is not divisible by 4
model M(x: [B, 8, 8, 6]) -> [B, 8, 8, 8] {
    return x |> conv(8, kernel: 3, groups: 4)
}
