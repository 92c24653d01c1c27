// expect: E0102 3:17 unknown op or block `BasicBlock`
model M(x: [B, 8, 8, 3]) -> [B, 8, 8, 3] {
    return x |> BasicBlock
}
