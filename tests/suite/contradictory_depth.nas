// expect: E0404 3:12 depth must be at least 5 and at most 3: no subgraph can do both
block H(x: [B, C]) -> [B, C] {
    return ?<depth >= 5, depth <= 3>(x)
}
