// issue 16: one flag per position of a 10^12 dim aborted (props, holes, LSP hover)
model M(x: [B, 1000000000000, 8, 4]) -> [B, 1000000000000, 8, 4] { return x |> conv(4, kernel: 3) }
model H(x: [B, 1000000000, 8, 4]) -> [B, 1000000000, 8, 4] { return ?<depth >= 1, mixing >= conv>(x) }
