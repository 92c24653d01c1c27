// expect: E0110 3:7 `M` has no `return`
// expect: W0101 4:9 unused binding `y`
model M(x: [B, 8]) -> [B, 8] {
    let y = x |> relu
}
