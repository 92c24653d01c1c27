#!/bin/sh
# On a GPU host: build nasc with CUDA and wgpu, check training on each GPU device against the
# CPU backend, train cnn_digits for 2 epochs on each, and print training images/s of the four
# benchmark models on each beside PyTorch's on the same GPU — the table the README needs.
#
#   scripts/gpu_smoke.sh [PYTHON]     PYTHON: a Python with torch built for this GPU (default python3)
#
# CUDA needs the NVIDIA driver, NVRTC (libnvrtc) and the CUDA headers (CUDA_PATH, default
# /usr/local/cuda); set CUDARC_CUDA_VERSION (e.g. 12080, 13000) when cudarc cannot tell the
# host's version. wgpu needs a Vulkan (Linux, Windows), Metal (macOS) or DX12 (Windows) driver
# for the GPU. A device that is not there is skipped with `nasc devices`'s reason; the script
# fails when neither is there.
set -eu
cd "$(dirname "$0")/.."
python=${1:-python3}
features=wgpu
# CUDA only where the driver is: a build with it needs nothing, but only runs with it.
if [ -e /proc/driver/nvidia/version ] || command -v nvidia-smi >/dev/null 2>&1; then
    features=cuda,wgpu
fi
cargo build --release --features "$features"
bin=target/release/nasc
"$bin" devices
ran=0
for device in cuda wgpu; do
    # The first GPU's entry: `cuda`, or `wgpu:0` (a software adapter, `wgpu:cpu`, does not count).
    listed=$device
    [ "$device" = wgpu ] && listed=wgpu:0
    if ! "$bin" devices --json | grep -q "\"name\":\"$listed\",\"usable\":true"; then
        echo "gpu_smoke: no usable $device device here (see the list above); skipping it" >&2
        continue
    fi
    ran=$((ran + 1))
    case $device in
    cuda) cargo test --release -p nasc-burn --features cuda --test gpu cuda:: -- --include-ignored --nocapture ;;
    wgpu) cargo test --release -p nasc-burn --features wgpu --test gpu wgpu:: -- --include-ignored --nocapture ;;
    esac
    "$bin" train examples/cnn_digits.nas --data digits --epochs 2 --device "$device" --out "target/gpu-smoke-$device"
    for batch in 64 128; do
        "$python" scripts/compare_torch.py --python "$python" --nasc "$bin" --device "$device" --batches "$batch" --threads "$(nproc)"
    done
done
[ "$ran" -gt 0 ] || { echo "gpu_smoke: no GPU device to check" >&2; exit 1; }
