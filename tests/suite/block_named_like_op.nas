// expect: E0106 2:7 block `relu` has the name of an op
block relu(x: [B, C]) -> [B, C] {
    return x
}
