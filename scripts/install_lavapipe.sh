#!/bin/sh
# Installs Mesa's lavapipe (Vulkan on the CPU; Debian's `mesa-vulkan-drivers`) and the Vulkan
# loader (`libvulkan1`): a software wgpu adapter, `--device wgpu:cpu`, on which CI runs the GPU
# path (`cargo test -p nasc-burn --features wgpu --test gpu wgpu::`) without a GPU.
# Needs root (or sudo); does nothing when a Vulkan ICD and the loader are already there.
set -eu
if ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && ldconfig -p | grep -q 'libvulkan.so.1 '; then
    exit 0
fi
exec "$(dirname "$0")/apt_install.sh" "Mesa's lavapipe (mesa-vulkan-drivers) and the Vulkan loader (libvulkan1)" mesa-vulkan-drivers libvulkan1
