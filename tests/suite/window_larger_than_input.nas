// expect: E0206 4:17 the window spans 3 positions but the padded input has 2 along the height (2)
// A stride-2 conv on 7×7 is fine (SAME rounds up to 4×4, as torchvision does), but a window must fit.
model M(x: [B, 2, 2, 3]) -> [B, 1, 1, 8] {
    return x |> conv(8, kernel: 3, padding: valid)
}
block Valid(x: [B, H, W, C]) -> [B, H - 2, W - 2, C] {
    return x |> max_pool(3, stride: 1, padding: valid)
}
model Odd(x: [B, 7, 7, 3]) -> [B, 4, 4, 8] {
    return x |> conv(8, kernel: 3, stride: 2) |> max_pool(3, stride: 1, padding: [1, 1, 1, 1])
}
