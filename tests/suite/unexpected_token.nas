// expect: E0010 3:9 unexpected `=`
model M(x: [B, 8]) -> [B, 8] {
    let = x |> relu
    return x
}
