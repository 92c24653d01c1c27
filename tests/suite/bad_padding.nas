// expect: E0206 5:39 unknown padding "full"
// expect: E0206 6:39 a padding list has 2 or 4 ints, found 3
// expect: E0204 7:38 argument `padding` of `avg_pool` must be `same`, `valid`, an int or a list of 2 or 4 ints, found a bool
block P(x: [B, 8, 8, C]) -> [B, 8, 8, C] {
    let _a = x |> conv(4, 3, padding: "full")
    let _b = x |> conv(4, 3, padding: [1, 1, 1])
    return x |> avg_pool(3, padding: true, stride: 1)
}
