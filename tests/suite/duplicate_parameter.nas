// expect: E0105 2:28 parameter `n` is declared twice
block P(x: [B, C], n: int, n: int) -> [B, C] {
    return x |> relu
}
