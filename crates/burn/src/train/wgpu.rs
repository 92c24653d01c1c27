//! `--device wgpu[:N|:cpu]`: burn's wgpu backend on the machine's Vulkan, Metal or DX12
//! adapters (AMD, Intel, Apple and NVIDIA GPUs), and the software rasterizers that enumerate as
//! CPU adapters (Mesa's lavapipe), which run the same kernels on the CPU for testing.
//!
//! The adapters are listed here the way CubeCL's wgpu runtime will see them (the first graphics
//! API of its chain that reaches a GPU, else the first with a software adapter), so a device that
//! is not there is a named error before burn touches it: CubeCL panics when it cannot find the
//! adapter it was asked for.

use super::devices::{Adapter, AdapterKind};
use burn::backend::wgpu::graphics::AutoGraphicsApi;
use burn::backend::wgpu::wgpu;
use burn::tensor::{Device, DeviceKind};

/// The adapters CubeCL's wgpu runtime can reach, in its order.
pub fn adapters() -> Vec<Adapter> {
    let mut software = None;
    for api in AutoGraphicsApi::chain() {
        let found = probe(api);
        if found.iter().any(|a| a.kind != AdapterKind::Software) {
            return found;
        }
        if software.is_none() && !found.is_empty() {
            software = Some(found);
        }
    }
    software.unwrap_or_default()
}

fn probe(api: wgpu::Backend) -> Vec<Adapter> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor { backends: api.into(), ..wgpu::InstanceDescriptor::new_without_display_handle() });
    let infos: Vec<wgpu::AdapterInfo> = ready(instance.enumerate_adapters(api.into())).iter().map(wgpu::Adapter::get_info).collect();
    let mut seen = [0usize; 5];
    infos
        .into_iter()
        .map(|info| {
            let kind = match info.device_type {
                wgpu::DeviceType::DiscreteGpu => AdapterKind::Discrete,
                wgpu::DeviceType::IntegratedGpu => AdapterKind::Integrated,
                wgpu::DeviceType::VirtualGpu => AdapterKind::Virtual,
                wgpu::DeviceType::Cpu => AdapterKind::Software,
                wgpu::DeviceType::Other => AdapterKind::Other,
            };
            let index = seen[kind as usize];
            seen[kind as usize] += 1;
            let driver = [info.driver.as_str(), info.driver_info.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
            Adapter { name: info.name, api: format!("{:?}", info.backend), kind, index, driver }
        })
        .collect()
}

/// The value of a future that is ready at once (wgpu's native adapter enumeration is).
fn ready<T>(f: impl std::future::Future<Output = T>) -> T {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// The device for `wgpu` (`which` = None: the best GPU), `wgpu:N` (the N-th GPU `nasc devices`
/// lists) or `wgpu:cpu` (a software adapter).
pub fn device(which: Option<&str>) -> Result<Device, String> {
    let all = adapters();
    let gpus: Vec<&Adapter> = all.iter().filter(|a| a.kind != AdapterKind::Software).collect();
    match which {
        None if gpus.is_empty() => Err(no_gpu(&all)),
        None => Ok(Device::wgpu(DeviceKind::DefaultDevice)),
        Some("cpu") => match all.iter().find(|a| a.kind == AdapterKind::Software) {
            Some(_) => Ok(Device::wgpu(DeviceKind::Cpu)),
            None => Err("no software wgpu adapter here (`wgpu:cpu` runs on one such as Mesa's lavapipe: Debian's `mesa-vulkan-drivers` and `libvulkan1`; `nasc devices` lists what works)".into()),
        },
        Some(n) => {
            let Ok(k) = n.parse::<usize>() else {
                return Err(format!("unknown wgpu device `wgpu:{n}`: use `wgpu` (the best GPU), `wgpu:N` (the N-th GPU `nasc devices` lists) or `wgpu:cpu`"));
            };
            let Some(a) = gpus.get(k) else {
                return Err(match gpus.len() {
                    0 => no_gpu(&all),
                    n => format!("there is no wgpu GPU {k}: this machine has {n} (wgpu:0 to wgpu:{}; `nasc devices` lists them)", n - 1),
                });
            };
            match a.kind {
                AdapterKind::Discrete => Ok(Device::wgpu(DeviceKind::DiscreteGpu(a.index))),
                AdapterKind::Integrated => Ok(Device::wgpu(DeviceKind::IntegratedGpu(a.index))),
                AdapterKind::Virtual => Ok(Device::wgpu(DeviceKind::VirtualGpu(a.index))),
                AdapterKind::Other | AdapterKind::Software => {
                    Err(format!("wgpu:{k} ({}) is of a kind burn cannot select by index: use `--device wgpu`, which picks the best GPU", a.name))
                }
            }
        }
    }
}

/// Why `--device wgpu` cannot run here: no GPU adapter, perhaps only a software one.
pub(super) fn no_gpu(all: &[Adapter]) -> String {
    let base = "no GPU adapter found through Vulkan, Metal or DX12: install the GPU's Vulkan driver (Debian and Ubuntu: `mesa-vulkan-drivers` for AMD and Intel, the NVIDIA driver for NVIDIA) and the Vulkan loader `libvulkan1`";
    match all.iter().find(|a| a.kind == AdapterKind::Software) {
        Some(s) => format!("{base}; only a software adapter is here ({}): `--device wgpu:cpu` runs on it, slowly", s.name),
        None => format!("{base} (`nasc devices` lists what works)"),
    }
}
