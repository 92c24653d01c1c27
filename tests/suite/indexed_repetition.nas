// expect: E0206 7:52 drop_path rate must be in [0, 1), found 1.2000000000000002
// expect: W0101 12:41 unused index `j`
// expect: E0101 13:33 cannot find value `i` in this scope
// A repetition's arguments may read its index (`for i`: 0 to n - 1), as EfficientNet's
// stochastic depth grows with the block; the index is in scope in those arguments only.
block Res(x: [B, H, W, C], rate: float) -> [B, H, W, C] {
    return x + (x |> conv(C, kernel: 3) |> relu |> drop_path(rate))
}
model M(x: [B, 8, 8, 4]) -> [B, 8, 8, 4] {
    let y = x |> Res(rate: 0.2 * i / 4) * 4 for i
    let w = y |> Res(rate: 0.4 * k) * 4 for k
    let z = w |> Res(rate: 0.1) * 2 for j
    return z |> Res(rate: 0.1 * i)
}
