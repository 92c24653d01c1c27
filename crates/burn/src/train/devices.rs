//! Which devices this nasc can train on, and, for CUDA and wgpu, what exactly is missing when it
//! cannot: the checks run before burn touches the GPU, because cudarc (under burn-cuda) panics
//! when the driver or NVRTC cannot be loaded, and CubeCL when the adapter it is asked for is not
//! there.

use serde::Serialize;
use std::path::PathBuf;

/// One device and whether `--device NAME` works here.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceStatus {
    pub name: String,
    pub usable: bool,
    /// What it is, or why it cannot be used and what to install.
    pub detail: String,
}

/// Every device nasc knows, with its status.
pub fn list() -> Vec<DeviceStatus> {
    let status = |name: &str, usable: bool, detail: String| DeviceStatus { name: name.into(), usable, detail };
    let cpu = status("cpu", true, "burn flex backend with nasc's CPU kernels".into());
    let cuda = match cuda_problems() {
        Ok(n) if cfg!(feature = "cuda") => status("cuda", true, format!("{n} CUDA device(s), NVRTC and headers found")),
        Ok(n) => status(
            "cuda",
            false,
            format!("{n} CUDA device(s) found, but this nasc was built without CUDA: build it with `cargo build --release --features cuda`"),
        ),
        Err(problems) => status("cuda", false, problems.join("; ")),
    };
    let mut all = vec![cpu, cuda];
    all.extend(wgpu_list());
    all
}

/// One line per wgpu adapter (`wgpu:N` for the GPUs, `wgpu:cpu` for a software one), or one
/// saying why there is none.
#[cfg(feature = "wgpu")]
fn wgpu_list() -> Vec<DeviceStatus> {
    let adapters = super::wgpu::adapters();
    if adapters.iter().all(|a| a.kind == AdapterKind::Software) {
        let mut out = vec![DeviceStatus { name: "wgpu".into(), usable: false, detail: super::wgpu::no_gpu(&adapters) }];
        out.extend(adapters.iter().map(|a| DeviceStatus { name: "wgpu:cpu".into(), usable: true, detail: a.describe() }));
        return out;
    }
    let mut gpu = 0;
    adapters
        .iter()
        .map(|a| {
            let name = if a.kind == AdapterKind::Software {
                "wgpu:cpu".to_string()
            } else {
                gpu += 1;
                format!("wgpu:{}", gpu - 1)
            };
            DeviceStatus { name, usable: true, detail: a.describe() }
        })
        .collect()
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_list() -> Vec<DeviceStatus> {
    vec![DeviceStatus {
        name: "wgpu".into(),
        usable: false,
        detail:
            "this nasc was built without wgpu (AMD, Intel and Apple GPUs through Vulkan, Metal or DX12): build it with `cargo build --release --features wgpu`"
                .into(),
    }]
}

/// A graphics adapter burn's wgpu backend can run on.
#[derive(Clone, Debug, Serialize)]
pub struct Adapter {
    pub name: String,
    /// The graphics API it is reached through: Vulkan, Metal or Dx12.
    pub api: String,
    pub kind: AdapterKind,
    /// Its index among the adapters of its kind (what the backend selects by).
    pub index: usize,
    pub driver: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdapterKind {
    Discrete,
    Integrated,
    Virtual,
    /// A software rasterizer on the CPU (Mesa's lavapipe, WARP): runs the GPU kernels, slowly.
    Software,
    Other,
}

impl Adapter {
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            AdapterKind::Discrete => "discrete GPU",
            AdapterKind::Integrated => "integrated GPU",
            AdapterKind::Virtual => "virtual GPU",
            AdapterKind::Software => "software adapter on the CPU, for testing",
            AdapterKind::Other => "adapter",
        };
        let driver = if self.driver.is_empty() { String::new() } else { format!(", driver {}", self.driver) };
        format!("{}: {kind} through {}{driver}", self.name, self.api)
    }
}

/// The number of CUDA devices, or everything that stops CUDA training here.
pub fn cuda_problems() -> Result<usize, Vec<String>> {
    let mut problems = Vec::new();
    let devices = match driver_devices() {
        Ok(n) => n,
        Err(e) => {
            problems.push(e);
            0
        }
    };
    if let Err(e) = find_nvrtc() {
        problems.push(e);
    }
    if cuda_headers().is_none() {
        problems.push(
            "CUDA headers not found (NVRTC compiles kernels against cuda_fp16.h and friends): install the CUDA toolkit's headers and set CUDA_PATH to the directory holding include/ (default /usr/local/cuda)".into(),
        );
    }
    if problems.is_empty() { Ok(devices) } else { Err(problems) }
}

/// Loads the driver library and counts devices through the driver API.
fn driver_devices() -> Result<usize, String> {
    let names = ["libcuda.so.1", "libcuda.so"];
    // SAFETY: loading the NVIDIA driver library runs its initialisers, as cudarc would.
    let lib = names.iter().find_map(|n| unsafe { libloading::Library::new(*n) }.ok()).ok_or_else(|| {
        "NVIDIA driver library libcuda.so.1 not found: install the NVIDIA driver (it provides libcuda; containers need the NVIDIA container toolkit)"
            .to_string()
    })?;
    // SAFETY: the signatures are the CUDA driver API's: CUresult cuInit(unsigned), cuDeviceGetCount(int*).
    unsafe {
        let init: libloading::Symbol<unsafe extern "C" fn(u32) -> i32> = lib.get(b"cuInit").map_err(|e| format!("libcuda has no cuInit: {e}"))?;
        let count: libloading::Symbol<unsafe extern "C" fn(*mut i32) -> i32> =
            lib.get(b"cuDeviceGetCount").map_err(|e| format!("libcuda has no cuDeviceGetCount: {e}"))?;
        match init(0) {
            0 => {}
            100 => return Err("the NVIDIA driver is installed but sees no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)".into()),
            code => return Err(format!("the NVIDIA driver failed to initialise (cuInit returned CUresult {code}): check `nvidia-smi`")),
        }
        let mut n = 0i32;
        match count(&mut n) {
            0 if n > 0 => Ok(n as usize),
            0 => Err("the NVIDIA driver reports no CUDA device".into()),
            code => Err(format!("cuDeviceGetCount returned CUresult {code}")),
        }
    }
}

fn find_nvrtc() -> Result<(), String> {
    let names = ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"];
    // SAFETY: NVRTC's initialisers are what cudarc would run when it loads the library.
    if names.iter().any(|n| unsafe { libloading::Library::new(*n) }.is_ok()) {
        Ok(())
    } else {
        Err("NVRTC (libnvrtc.so) not found: install the CUDA toolkit's NVRTC (apt `cuda-nvrtc-XX-Y`, or pip `nvidia-cuda-nvrtc`) and put its lib directory on LD_LIBRARY_PATH".into())
    }
}

/// The CUDA include directory NVRTC will be given, if it has the headers.
pub fn cuda_headers() -> Option<PathBuf> {
    let root = std::env::var_os("CUDA_PATH").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/local/cuda"));
    let include = root.join("include");
    include.join("cuda_fp16.h").is_file().then_some(include)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_listed_as_usable() {
        let all = list();
        assert!(all.iter().any(|d| d.name == "cpu" && d.usable));
        assert!(all.iter().any(|d| d.name == "cuda"));
    }

    /// On a machine without the NVIDIA driver (this project's and CI's), the reason names the
    /// missing library and what to install.
    #[test]
    fn a_missing_driver_is_named_with_what_to_install() {
        // SAFETY: as in driver_devices.
        let has_driver = ["libcuda.so.1", "libcuda.so"].iter().any(|n| unsafe { libloading::Library::new(*n) }.is_ok());
        if has_driver {
            return;
        }
        let problems = cuda_problems().unwrap_err();
        assert!(problems[0].starts_with("NVIDIA driver library libcuda.so.1 not found: install the NVIDIA driver"), "{problems:?}");
        let cuda = list().into_iter().find(|d| d.name == "cuda").unwrap();
        assert!(!cuda.usable && cuda.detail.contains("libcuda.so.1 not found"), "{}", cuda.detail);
    }
}
