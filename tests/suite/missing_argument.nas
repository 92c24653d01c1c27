// expect: E0201 3:17 `conv` is missing argument `kernel`
model M(x: [B, 8, 8, 3]) -> [B, 8, 8, 8] {
    return x |> conv(8)
}
