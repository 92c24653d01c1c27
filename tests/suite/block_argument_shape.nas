// expect: E0301 7:12 `Wide` expects `x: [B, H, W, 64]`, found [B, 8, 8, 32]
block Wide(x: [B, H, W, 64]) -> [B, H, W, 64] {
    return x |> relu
}

model M(x: [B, 8, 8, 32]) -> [B, 8, 8, 64] {
    return x |> Wide
}
