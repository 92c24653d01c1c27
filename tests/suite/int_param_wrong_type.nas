// expect: E0204 7:23 expected int, found a bool
block Widen(x: [B, C], n: int) -> [B, n] {
    return x |> dense(n)
}

model M(x: [B, 8]) -> [B, 8] {
    return x |> Widen(true)
}
