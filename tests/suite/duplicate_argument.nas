// expect: E0205 3:44 argument `kernel` of `conv` is given twice
model M(x: [B, 8, 8, 3]) -> [B, 8, 8, 8] {
    return x |> conv(8, kernel: 3, kernel: 5)
}
