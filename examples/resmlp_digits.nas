// A residual MLP for the bundled 8×8 digits: two residual blocks of width 32 between a dense
// stem and the classifier. Small enough to evolve in seconds; its blocks' sums are what the
// search's two-input mutations rewrite.
block Residual(x: [B, D]) -> [B, D] {
    let y = x |> dense(D) |> relu |> dense(D)
    return relu(x + y)
}

model ResMlpDigits(x: [B, 8, 8, 1], classes: int = 10) -> [B, classes] {
    let y = x |> flatten |> dense(32) |> relu
    return y |> Residual |> Residual |> dense(classes)
}
