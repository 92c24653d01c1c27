// expect: E0103 2:5 no stdlib module `std.nope`
use std.nope

model M(x: [B, 8]) -> [B, 8] {
    return x |> relu
}
