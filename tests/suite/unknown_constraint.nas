// expect: E0401 3:14 unknown hole constraint `dept`
block H(x: [B, C]) -> [B, C] {
    return ?<dept >= 2>(x)
}
