#!/usr/bin/env python3
"""PyTorch's side of `cargo run -p nasc-kernels --example conv_speed`: the same ResNet-18 (CIFAR)
convolution shapes at batch 64, channels-last, 2 threads; forward, input gradient and weight
gradient, best of 5 rounds of 3 calls, GFLOP/s counting the direct convolution's multiply-adds.

Usage: VENV/bin/python scripts/torch_conv_speed.py   (VENV: any environment with torch)
"""
import time

import torch

torch.set_num_threads(2)


def best(f):
    f()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(3):
            f()
        times.append((time.perf_counter() - t) / 3)
    return min(times)


SHAPES = [("3x3 64->64 32x32", 32, 64, 64, 3, 1), ("3x3 128->128 16x16", 16, 128, 128, 3, 1),
          ("3x3 256->256 8x8", 8, 256, 256, 3, 1), ("3x3 512->512 4x4", 4, 512, 512, 3, 1),
          ("1x1 64->128 s2", 32, 64, 128, 1, 2)]

for name, hw, cin, cout, k, stride in SHAPES:
    pad = [(k - 1) // 2] * 2
    x = torch.randn(64, cin, hw, hw).contiguous(memory_format=torch.channels_last)
    w = torch.randn(cout, cin, k, k)
    y = torch.nn.functional.conv2d(x, w, stride=stride, padding=pad[0])
    dy = torch.randn_like(y)
    flops = 2 * y.numel() * cin * k * k

    def grads(mask):
        return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, [stride] * 2, pad, [1, 1], False, [0, 0], 1, mask)

    f = best(lambda: torch.nn.functional.conv2d(x, w, stride=stride, padding=pad[0]))
    bi = best(grads([True, False, False]))
    bw = best(grads([False, True, False]))
    print(f"{name:<20} forward {f * 1e3:7.1f} ms {flops / f / 1e9:6.1f} GFLOP/s | input grad {bi * 1e3:7.1f} ms "
          f"{flops / bi / 1e9:6.1f} | weight grad {bw * 1e3:7.1f} ms {flops / bw / 1e9:6.1f}")

# The gemm alone, as conv_speed times it: the 512-channel layer's im2col shape.
m, k, n = 1024, 4608, 512
a, b = torch.randn(m, k), torch.randn(k, n)
t = best(lambda: torch.mm(a, b))
print(f"sgemm {m}x{k} * {k}x{n}  {t * 1e3:7.1f} ms {2 * m * k * n / t / 1e9:6.1f} GFLOP/s")
