// expect: E0302 3:36 7 is not divisible by 2
// expect: E0302 4:17 height 7 is not divisible by 2
block Half(x: [B, H, W, C]) -> [B, H / 2, W / 2, C] {
    return x |> avg_pool(2)
}

model M(x: [B, 7, 8, 3]) -> [B, 3, 4, 3] {
    return x |> Half
}
