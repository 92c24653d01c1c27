// expect: E0206 9:34 a window list has 2 ints [height, width], found 3
// expect: E0206 10:18 `stride` must be positive, found 0
// expect: E0204 11:34 argument `kernel` of `conv` must be an int or a list of 2 ints [height, width], found a string
// Factorised 7×7 (1×7 then 7×1) is fine; a window list has exactly two ints.
model Ok(x: [B, 17, 17, 8]) -> [B, 17, 17, 8] {
    return x |> conv(8, kernel: [1, 7], padding: [0, 3]) |> conv(8, kernel: [7, 1], padding: [3, 0])
}
model Bad(x: [B, 17, 17, 8]) -> [B, 17, 17, 8] {
    let a = x |> conv(8, kernel: [1, 7, 1])
    let b = x |> max_pool([3, 3], stride: [1, 0])
    let c = x |> conv(8, kernel: "3x3")
    return a + b + c
}
