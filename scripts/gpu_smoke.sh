#!/bin/sh
# On a machine with an NVIDIA GPU: build nasc with CUDA, check one training step on the GPU
# against the CPU, train cnn_digits for 2 epochs on cuda, and time the benchmark models.
# Needs the NVIDIA driver, NVRTC (libnvrtc) and the CUDA headers (CUDA_PATH, default
# /usr/local/cuda). Set CUDARC_CUDA_VERSION (e.g. 12080, 13000) to the host's CUDA version if
# cudarc cannot tell. Fails with the reason when any of it is missing.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --features cuda
bin=target/release/nasc
"$bin" devices
if ! "$bin" devices --json | grep -q '"name":"cuda","usable":true'; then
    echo "gpu_smoke: no usable CUDA device here (see the line above); nothing to check" >&2
    exit 1
fi
cargo test --release --features cuda --test gpu -- --nocapture
"$bin" train examples/cnn_digits.nas --data digits --epochs 2 --device cuda --out target/gpu-smoke
for batch in 64 128; do
    "$bin" bench benches/models/*.nas --device cuda --batch "$batch"
done
echo "PyTorch on the same GPU, for the ratio: python3 ../shared/bench/torch_reference.py --device cuda --batch 128"
