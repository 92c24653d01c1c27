// expect: E0111 2:1 unknown attribute `@frozn`
@frozn
block F(x: [B, C]) -> [B, C] {
    return x |> relu
}
