// expect: E0207 3:12 `-` does not apply to tensors
model M(x: [B, 8]) -> [B, 8] {
    return x - x
}
