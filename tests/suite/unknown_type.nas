// expect: E0109 2:23 unknown type `int32`
block T(x: [B, C], n: int32) -> [B, C] {
    return x |> relu
}
