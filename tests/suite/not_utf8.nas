// expect: E0005 3:11 file is not valid UTF-8
model M(x: [B, 8]) -> [B, 8] {
    // café
    return x
}
