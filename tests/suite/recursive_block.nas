// expect: E0107 3:25 block `Loop` calls itself
block Loop(x: [B, C]) -> [B, C] {
    return x |> relu |> Loop
}
