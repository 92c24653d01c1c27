// expect: E0204 3:9 cannot unpack a tuple of 3 into 2 names
model M(x: [B, 12]) -> [B, 4] {
    let (a, b) = x |> split(3)
    return a + b
}
