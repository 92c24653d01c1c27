// expect: E0301 3:12 shape mismatch in `matmul`
model M(a: [B, 4, 8], b: [B, 4, 8]) -> [B, 4, 8] {
    return matmul(a, b)
}
