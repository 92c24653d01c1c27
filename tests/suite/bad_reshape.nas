// expect: E0307 3:17 cannot reshape [B, 8, 8, 1] (64*B elements) into [B, 100] (100*B elements)
model M(x: [B, 8, 8, 1]) -> [B, 100] {
    return x |> reshape([B, 100])
}
