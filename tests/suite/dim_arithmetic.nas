// expect: E0305 4:27 cannot compute `C / 0`: division by zero
// expect: E0305 8:23 cannot compute `8 / 0`: division by zero
// Dim expressions are computed exactly; a division by zero is an error where it is written.
block B(x: [N, C]) -> [N, C / 0] {
    return x
}
model M(x: [B, 8]) -> [B, 8] {
    return x |> dense(8 / 0)
}
