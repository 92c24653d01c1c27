// expect: E0403 3:14 `params` cannot be constrained with `>=`
block H(x: [B, C]) -> [B, C] {
    return ?<params >= 10>(x)
}
