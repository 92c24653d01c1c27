// expect: E0203 3:22 too many arguments to `relu`: it takes 1, found 2 positional
model M(x: [B, 8]) -> [B, 8] {
    return x |> relu(3)
}
