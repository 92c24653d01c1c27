// expect: W0101 9:9 unused binding `c`
// expect: E0301 9:13 shape mismatch in `+`
// expect: W0101 10:9 unused binding `d`
// expect: E0306 10:40 axis 3 is out of range for rank 2
// expect: E0204 11:44 argument `bias` of `dense` must be a bool, found an int
model M(x: [B, 8, 8, 3]) -> [B, 10] {
    let a = x |> conv(16, kernel: 3) |> max_pool(2)
    let b = x |> conv(16, kernel: 3)
    let c = a + b
    let d = x |> mean(axes: [1, 2]) |> softmax(axis: 3)
    return x |> flatten |> dense(10, bias: 1)
}
