// expect: E0003 3:31 unterminated string
model M(x: [B, 8, 8, 3], y: [B, 8, 8, 3]) -> [B, 8, 8, 3] {
    return einsum(x, y, spec: "bhwc,