// expect: E0306 3:17 axis 5 is out of range for rank 2
model M(x: [B, 8]) -> [B, 8] {
    return x |> softmax(axis: 5)
}
