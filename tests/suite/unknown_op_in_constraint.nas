// expect: E0403 3:29 `reluu` is not an op
block H(x: [B, C]) -> [B, C] {
    return ?<ops in {dense, reluu}>(x)
}
