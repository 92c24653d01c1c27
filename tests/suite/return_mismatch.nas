// expect: E0304 3:12 `M` returns [B, 20] but its signature says [B, 10]
model M(x: [B, 8], classes: int = 10) -> [B, classes] {
    return x |> dense(20)
}
