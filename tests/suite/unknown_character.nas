// expect: E0001 3:22 unexpected character `$`
model M(x: [B, 8]) -> [B, 8] {
    return x |> relu $
}
