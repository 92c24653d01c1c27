// expect: E0302 4:36 7 is not divisible by 2
// expect: E0304 9:12 `M` returns [B, 4, 4, 3] but its signature says [B, 3, 4, 3]
// A dim expression must divide exactly; the pool itself rounds 7 / 2 up to 4, as torchvision's does.
block Half(x: [B, H, W, C]) -> [B, H / 2, W / 2, C] {
    return x |> avg_pool(2)
}

model M(x: [B, 7, 8, 3]) -> [B, 3, 4, 3] {
    return x |> Half
}
