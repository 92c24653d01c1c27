//! The items of `cubecl-llvm` that `cubecl-cuda` 0.11.3 names, without LLVM (see Cargo.toml for
//! why). Compiling a kernel through this "LLVM" backend is an error; with cubecl-cuda's `cpp`
//! feature on (nasc's `cuda` feature turns it on) the CUDA runtime never asks for it.

use cubecl_core::ir::DeviceProperties;
use cubecl_core::ir::nvidia::SmArch;
use cubecl_environment::backtrace::BackTrace;
use cubecl_runtime::compiler::{CompilationError, Compiler};
use cubecl_runtime::kernel::{BufferIOAttr, KernelDefinition};

pub mod nvptx {
    pub mod ptx_version {
        use core::fmt;

        /// A PTX ISA version (8.7 is `87`). cubecl-cuda computes one from the driver for its
        /// LLVM backend's cache keys and options; nothing here emits PTX.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct PtxVersion(u32);

        impl PtxVersion {
            /// The newest PTX version a CUDA driver of version `driver` (12.8 is `12080`) loads.
            pub fn for_driver(driver: i32) -> Option<Self> {
                // (first CUDA release, PTX version), newest first, as clang maps them.
                const DRIVER_PTX: &[(i32, u32)] = &[(13000, 90), (12080, 87), (12040, 84), (12000, 80), (11080, 78), (11000, 70), (10000, 63)];
                DRIVER_PTX.iter().find(|(first, _)| driver >= *first).map(|(_, ptx)| Self(*ptx))
            }
        }

        impl fmt::Display for PtxVersion {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "ptx{}", self.0)
            }
        }
    }
}

pub mod shared {
    pub mod lowered_features {
        use super::super::DeviceProperties;

        /// The GPU targets the LLVM backend lowers to.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum GpuTarget {
            Nvptx,
            AmdGpu,
        }

        /// Would remove the device features the LLVM backend cannot lower. cubecl-cuda calls it
        /// only when LLVM is its kernel compiler, which it is not with the `cpp` feature.
        pub fn restrict_features(_props: &mut DeviceProperties, _target: GpuTarget) {}
    }
}

/// The compilation targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LlvmTarget {
    #[default]
    Cpu,
    Nvptx,
}

#[derive(Clone, Debug, Default)]
pub struct PlironOptions {
    pub arch: Option<u32>,
    pub sm_arch: Option<SmArch>,
    pub ptx_version: Option<nvptx::ptx_version::PtxVersion>,
    pub grid_constants: bool,
}

/// A compiled PTX module (never produced here).
#[derive(Clone, Debug)]
pub struct NvptxModule {
    pub ptx: Vec<core::ffi::c_char>,
    pub entrypoint: String,
    pub ir: String,
    pub shared_memory_size: usize,
    pub io: Vec<BufferIOAttr>,
}

/// What a compilation produces.
#[derive(Clone, Debug)]
pub enum PlironArtifact {
    NvptxCode(NvptxModule),
    /// Keeps cubecl-cuda's catch-all match arm meaningful, as in the real crate.
    Unavailable,
}

impl core::fmt::Display for PlironArtifact {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PlironArtifact::NvptxCode(m) => write!(f, "{}", m.ir),
            PlironArtifact::Unavailable => write!(f, "<no LLVM in this build>"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct PlironCompiler {
    pub target: LlvmTarget,
}

impl Compiler for PlironCompiler {
    type Representation = PlironArtifact;
    type CompilationOptions = PlironOptions;

    fn compile(&mut self, _kernel: KernelDefinition, _options: &PlironOptions) -> Result<PlironArtifact, CompilationError> {
        Err(CompilationError::Generic {
            reason: "this build has no LLVM kernel compiler (nasc builds CUDA kernels with NVRTC: cubecl-cuda's `cpp` feature)".into(),
            backtrace: BackTrace::capture(),
        })
    }

    fn extension(&self) -> &'static str {
        "ll"
    }

    fn lang_tag(&self) -> &'static str {
        "llvm"
    }
}
