// A hole under a parameter budget: map 8×8×16 features to 8×8×32 with at most 3,000
// parameters and some depth; only convs, norms and activations may be used.

model Budget(x: [B, 8, 8, 16], classes: int = 10) -> [B, classes] {
    let y = x |> ?<depth >= 2, shape = [B, 8, 8, 32], params <= 3000, ops in {conv, batch_norm, relu, silu}>
    return y |> mean(axes: [1, 2]) |> dense(classes)
}
