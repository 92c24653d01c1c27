// expect: E0102 4:17 unknown op or block `frobnicate`
// A name near no op or block gets no guess, only the fact.
model M(x: [B, 8]) -> [B, 8] {
    return x |> frobnicate
}
