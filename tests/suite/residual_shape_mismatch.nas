// expect: E0301 4:17 shape mismatch in `+`
block Down(x: [B, H, W, C]) -> [B, H, W, C] {
    let y = x |> conv(C * 2, kernel: 3) |> max_pool(2)
    return relu(x + y)
}
