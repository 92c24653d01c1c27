// expect: E0101 4:34 cannot find value `foo` in this scope
// expect: E0101 7:17 cannot find value `undefined_thing` in this scope
model M(x: [B, 8, 8, 3]) -> [B, 8, 8, 16] {
    let b = x |> conv(8, kernel: foo)
    let a = x |> conv(8, kernel: 3)
    let c = concat([a, b], axis: 3)
    let e = c + undefined_thing
    let f = [e, a] |> concat(axis: 3)
    return f |> conv(16, kernel: 1)
}
