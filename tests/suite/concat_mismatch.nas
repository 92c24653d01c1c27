// expect: E0301 3:12 shape mismatch in `concat`
model M(a: [B, 4, 8], b: [B, 5, 9]) -> [B, 9, 8] {
    return concat([a, b], axis: 1)
}
