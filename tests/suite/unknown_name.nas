// expect: E0101 3:23 cannot find value `classez` in this scope
model M(x: [B, 8], classes: int = 10) -> [B, classes] {
    return x |> dense(classez)
}
