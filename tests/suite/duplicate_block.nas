// expect: E0104 6:7 `Twice` is defined twice
block Twice(x: [B, C]) -> [B, C] {
    return x |> relu
}

block Twice(x: [B, C]) -> [B, C] {
    return x |> gelu
}
