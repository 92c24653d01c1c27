// expect: E0202 3:25 `conv` has no argument `kernal`
model M(x: [B, 8, 8, 3]) -> [B, 8, 8, 8] {
    return x |> conv(8, kernal: 3)
}
