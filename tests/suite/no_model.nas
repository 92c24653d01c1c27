// run: build
// expect: E0108 1:1 this file has no `model`
// Checking needs no model, but building does.
block Mlp(x: [B, 8]) -> [B, 8] {
    return x |> dense(8) |> relu
}
