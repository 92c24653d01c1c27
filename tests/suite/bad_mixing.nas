// expect: E0403 3:24 not a mixing value
block H(x: [B, C]) -> [B, C] {
    return ?<mixing >= sparse>(x)
}
