// expect: E0204 3:23 argument `features` of `dense` must be an int, found a float
model M(x: [B, 8]) -> [B, 4] {
    return x |> dense(4.5)
}
