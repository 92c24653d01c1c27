// expect: E0402 3:13 cannot tell the output shape of this hole
block H(x: [B, C]) -> [B, C] {
    let y = ?<depth >= 2>(x)
    return y |> relu
}
