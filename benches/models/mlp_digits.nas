// A two-layer MLP for the bundled 8×8 digits: 64 → 128 → 10. 9,610 parameters.

model MlpDigits(x: [B, 8, 8, 1], classes: int = 10) -> [B, classes] {
    return x |> flatten |> dense(128) |> relu |> dense(classes)
}
