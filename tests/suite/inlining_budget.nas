// expect: W0104 4:7 19 block(s) were not checked on their own: `L0`, `L1`, `L2`, `L3`, `L4`, `L5`, `L6`, `L7` and 11 more
// expect: E0112 4:45 the program inlines to more than 200000 ops
// Each block calls the one before twice: 2^18 ops once inlined, past the budget.
block L0(x: [B, 8]) -> [B, 8] { return x |> relu }
block L1(x: [B, 8]) -> [B, 8] { return x |> L0 |> L0 }
block L2(x: [B, 8]) -> [B, 8] { return x |> L1 |> L1 }
block L3(x: [B, 8]) -> [B, 8] { return x |> L2 |> L2 }
block L4(x: [B, 8]) -> [B, 8] { return x |> L3 |> L3 }
block L5(x: [B, 8]) -> [B, 8] { return x |> L4 |> L4 }
block L6(x: [B, 8]) -> [B, 8] { return x |> L5 |> L5 }
block L7(x: [B, 8]) -> [B, 8] { return x |> L6 |> L6 }
block L8(x: [B, 8]) -> [B, 8] { return x |> L7 |> L7 }
block L9(x: [B, 8]) -> [B, 8] { return x |> L8 |> L8 }
block L10(x: [B, 8]) -> [B, 8] { return x |> L9 |> L9 }
block L11(x: [B, 8]) -> [B, 8] { return x |> L10 |> L10 }
block L12(x: [B, 8]) -> [B, 8] { return x |> L11 |> L11 }
block L13(x: [B, 8]) -> [B, 8] { return x |> L12 |> L12 }
block L14(x: [B, 8]) -> [B, 8] { return x |> L13 |> L13 }
block L15(x: [B, 8]) -> [B, 8] { return x |> L14 |> L14 }
block L16(x: [B, 8]) -> [B, 8] { return x |> L15 |> L15 }
block L17(x: [B, 8]) -> [B, 8] { return x |> L16 |> L16 }
block L18(x: [B, 8]) -> [B, 8] { return x |> L17 |> L17 }
model M(x: [B, 8]) -> [B, 8] { return x |> L18 }
