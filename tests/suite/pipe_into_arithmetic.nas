// expect: E0010 3:22 unexpected `+`
model M(x: [B, 8]) -> [B, 8] {
    return x |> relu + x
}
