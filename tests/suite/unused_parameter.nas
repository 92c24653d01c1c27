// expect: W0102 2:25 unused parameter `y`
block Second(x: [B, C], y: [B, C]) -> [B, C] {
    return x |> relu
}
