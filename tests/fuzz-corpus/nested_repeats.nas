// issue 16: 10^9 inlined nodes (hung, memory grew without bound)
block R0(x: [B, 8]) -> [B, 8] { return x |> relu }
block R1(x: [B, 8]) -> [B, 8] { return x |> R0 * 1000 }
block R2(x: [B, 8]) -> [B, 8] { return x |> R1 * 1000 }
block R3(x: [B, 8]) -> [B, 8] { return x |> R2 * 1000 }
model M(x: [B, 8]) -> [B, 8] { return x |> R3 }
