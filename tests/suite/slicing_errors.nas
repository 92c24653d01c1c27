// expect: E0306 8:19 slice 5..3 is empty or outside axis 2 of size 8
// expect: E0306 9:19 index 6 is out of range for axis 1 of size 6
// expect: E0301 10:19 shape mismatch in `split`
// expect: E0206 11:19 give `split` either `parts` or `sizes`, not both
// expect: E0206 12:19 `step` must be positive, found 0
// Slices, gathers and uneven splits must stay inside the axis and add up.
model M(x: [B, 6, 8]) -> [B, 6, 8] {
    let _a = x |> slice(axis: 2, start: 5, end: 3)
    let _b = x |> gather(axis: 1, indices: [0, 6])
    let _c = x |> split(sizes: [3, 4])
    let _d = x |> split(2, sizes: [3, 5])
    let _e = x |> slice(axis: 1, start: 0, end: 6, step: 0)
    return x
}
