// expect: E0302 9:53 7 is not divisible by 2
// expect: E0304 13:12 `Down` returns [B, H/2 + p - 1, W/2 + p - 1, 2*C] but its signature says [B, H/2, W/2, 2*C]
// expect: E0206 16:17 `ceil_mode` needs a known height, found H
// Explicit padding inside a generic block gives a symbolic size: 3×3 / stride 1 / pad 1 keeps H,
// 3×3 / stride 2 / pad 1 halves it (checked exact at each call), a padding parameter shows up.
block Same3(x: [B, H, W, C]) -> [B, H, W, C] {
    return x |> conv(C, kernel: 3, padding: 1) |> avg_pool(3, stride: 1, padding: [1, 1]) |> slice(axis: 1, start: 0, end: H)
}
block Half(x: [B, H, W, C], stride: int = 2) -> [B, H / stride, W / stride, C] {
    return x |> conv(C, kernel: 3, stride: stride, padding: 1)
}
block Down(x: [B, H, W, C], p: int) -> [B, H / 2, W / 2, C * 2] {
    return x |> conv(C * 2, kernel: 3, stride: 2, padding: p)
}
block Ceil(x: [B, H, W, C]) -> [B, H, W, C] {
    return x |> max_pool(3, stride: 2, ceil_mode: true)
}
model M(x: [B, 7, 8, 3]) -> [B, 4, 4, 3] {
    return x |> Same3 |> Half
}
