// expect: W0101 3:9 unused binding `y`
model M(x: [B, 8]) -> [B, 8] {
    let y = x |> relu
    return x |> gelu
}
