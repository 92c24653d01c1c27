// A small Inception-v3-style network for 32×32 images: torchvision's stem conv (3×3, stride 2,
// no padding) and one InceptionC block, whose 7×7 convs are factorised into 1×7 then 7×1.
// Its params and MACs equal the PyTorch reference's (tests/reference/reference_counts.py).
use std.inception

model InceptionSmall(x: [B, 32, 32, 3], classes: int = 10) -> [B, classes] {
    let y = x |> conv(32, kernel: 3, stride: 2, padding: valid, bias: false) |> BnRelu
    let y = y |> InceptionC(c7: 64)
    return y |> mean(axes: [1, 2]) |> dense(classes)
}
