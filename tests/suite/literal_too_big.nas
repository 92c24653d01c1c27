// expect: E0002 3:23 invalid literal `99999999999999999999`
model M(x: [B, 8]) -> [B, 8] {
    return x |> dense(99999999999999999999)
}
