// expect: E0206 3:17 dropout rate must be in [0, 1), found 1.5
model M(x: [B, 8]) -> [B, 8] {
    return x |> dropout(1.5)
}
