// The ops and padding modes added for torchvision-style models, small enough to compare the
// generated Rust with the lowered module: `nasc build tests/generated/new_ops.nas --emit rust`.
model NewOps(x: [B, 9, 9, 3]) -> [B, 10] {
    let y = x |> conv(8, 3, stride: 2, padding: 1) |> relu6
    let z = y |> conv(8, 3, groups: 8, padding: [0, 2, 1, 1]) |> hard_swish |> max_pool(3, stride: 2, padding: valid)
    let s = z |> mean(axes: [1, 2]) |> dense(8) |> hard_sigmoid
    let t = z |> avg_pool(2, padding: [1, 0, 0, 1]) |> clamp(-0.5, 0.5) |> drop_path(0.2)
    let (a, b) = y |> roll(2, axis: 1) |> slice(axis: 2, start: 0, end: -1, step: 2) |> split(sizes: [3, 5])
    let g = concat([a, b], axis: 3) |> gather(axis: 3, indices: [7, 0, 0, 3, 1, 2, 4, 6])
    let u = g |> mean(axes: [1, 2])
    let v = y |> avg_pool(2, padding: valid, ceil_mode: true) |> max_pool(2, ceil_mode: true, padding: [1, 0, 1, 0]) |> mean(axes: [1, 2])
    return (t |> mean(axes: [1, 2])) * s + u + v |> dense(10)
}
