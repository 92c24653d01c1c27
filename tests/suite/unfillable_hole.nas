// run: build
// expect: E0405 6:17 this hole cannot be filled
// The hole must change 8 channels into 16 but may only use activations.
model M(x: [B, 8]) -> [B, 16] {
    let y = x |> dense(8)
    return y |> ?<ops in {relu, gelu}>
}
