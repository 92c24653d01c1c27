// expect: E0206 3:17 `features` must be positive, found -3
model M(x: [B, 8]) -> [B, 8] {
    return x |> dense(-3)
}
