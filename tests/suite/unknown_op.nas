// expect: E0102 3:17 unknown op or block `convv`
model M(x: [B, 8, 8, 3]) -> [B, 8, 8, 8] {
    return x |> convv(8, kernel: 3)
}
