// expect: E0011 3:20 unexpected end of file
model M(x: [B, 8]) -> [B, 8] {
    return x |> den