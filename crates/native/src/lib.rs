//! Native inference (issue 17): a checked, hole-free model and its trained weights compiled by
//! cranelift into one function
//!
//! ```c
//! void forward(const float *input, float *output, size_t batch);
//! ```
//!
//! over the language's channels-last layout, weights embedded as data. `plan` turns the burn
//! model into kernels over one example (folding batch norms, fusing clamps, placing buffers);
//! `emit` writes each kernel as cranelift IR. [`Jit`] compiles into memory (for `nasc bench
//! --latency` and tests); [`object`] writes a relocatable object file and [`header`] its C
//! header.
//!
//! The compiled function keeps its intermediate values in one static scratch area, so it is not
//! reentrant: call it from one thread at a time. Code is generated for the host CPU's features
//! (an object file runs on CPUs with the same vector extensions).

pub mod emit;
pub mod plan;

use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{AbiParam, Signature};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilderContext;
use cranelift_module::{DataDescription, FuncId, Linkage, Module, default_libcall_names};
use emit::{emit_forward, emit_step};
use plan::{Buf, Plan};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Why a model cannot be compiled natively.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeError(pub String);

impl std::fmt::Display for NativeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

fn err(e: impl std::fmt::Display) -> NativeError {
    NativeError(e.to_string())
}

/// The host ISA, optimising for speed; position-independent code for object files.
fn isa(pic: bool) -> Result<OwnedTargetIsa, NativeError> {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").map_err(err)?;
    flags.set("is_pic", if pic { "true" } else { "false" }).map_err(err)?;
    flags.set("use_colocated_libcalls", "false").map_err(err)?;
    let builder = cranelift_native::builder().map_err(|e| NativeError(format!("this CPU is not supported by cranelift: {e}")))?;
    builder.finish(settings::Flags::new(flags)).map_err(err)
}

/// What `define` put in a module: `forward`, each step's function, the scratch area.
struct Defined {
    forward: FuncId,
    steps: Vec<FuncId>,
    scratch: cranelift_module::DataId,
}

/// Declare and define the whole model in `module`, `forward` under the name `symbol`.
fn define<M: Module>(module: &mut M, plan: &Plan, symbol: &str) -> Result<Defined, NativeError> {
    let ptr = module.target_config().pointer_type();
    let call_conv = module.target_config().default_call_conv;
    // Constants (read-only) and the scratch area (writable, zeroed).
    let mut consts = Vec::new();
    for (i, c) in plan.consts.iter().enumerate() {
        let id = module.declare_data(&format!("{symbol}_w{i}"), Linkage::Local, false, false).map_err(err)?;
        let mut d = DataDescription::new();
        d.define(c.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>().into_boxed_slice());
        d.set_align(64);
        module.define_data(id, &d).map_err(err)?;
        consts.push(id);
    }
    let scratch = module.declare_data(&format!("{symbol}_scratch"), Linkage::Local, true, false).map_err(err)?;
    let mut d = DataDescription::new();
    d.define_zeroinit(plan.scratch.max(1) * 4);
    d.set_align(64);
    module.define_data(scratch, &d).map_err(err)?;
    let mut step_sig = Signature::new(call_conv);
    step_sig.params.push(AbiParam::new(ptr));
    let mut fctx = FunctionBuilderContext::new();
    let mut ctx = module.make_context();
    let mut steps = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let id = module.declare_function(&format!("{symbol}_step{i}"), Linkage::Local, &step_sig).map_err(err)?;
        ctx.func.signature = step_sig.clone();
        let mut gvs = HashMap::new();
        for v in step.ins.iter().chain(&step.outs) {
            if let Buf::Const(c) = v.buf {
                gvs.entry(c).or_insert_with(|| module.declare_data_in_func(consts[c], &mut ctx.func));
            }
        }
        for c in step.kernel.consts() {
            gvs.entry(c).or_insert_with(|| module.declare_data_in_func(consts[c], &mut ctx.func));
        }
        emit_step(step, &mut ctx.func, &mut fctx, &gvs, module.target_config());
        // NASC_DISASM=1 prints each step's machine code (for tuning kernels; benches/README.md).
        let disasm = std::env::var_os("NASC_DISASM").is_some();
        ctx.set_disasm(disasm);
        module.define_function(id, &mut ctx).map_err(|e| NativeError(format!("step {i} ({:?}): {e:?}", step.kernel)))?;
        if disasm && let Some(v) = ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
            eprintln!("=== step {i}: {}\n{v}", describe(step));
        }
        module.clear_context(&mut ctx);
        steps.push(id);
    }
    let mut sig = Signature::new(call_conv);
    sig.params.extend([AbiParam::new(ptr), AbiParam::new(ptr), AbiParam::new(I64)]);
    let forward = module.declare_function(symbol, Linkage::Export, &sig).map_err(err)?;
    ctx.func.signature = sig;
    let gv = module.declare_data_in_func(scratch, &mut ctx.func);
    let refs: Vec<_> = steps.iter().map(|&id| module.declare_func_in_func(id, &mut ctx.func)).collect();
    emit_forward(&mut ctx.func, &mut fctx, gv, &refs, (&plan.input, &plan.output), module.target_config());
    module.define_function(forward, &mut ctx).map_err(|e| NativeError(format!("forward: {e:?}")))?;
    module.clear_context(&mut ctx);
    Ok(Defined { forward, steps, scratch })
}

/// Latency in ms of `f` over `runs` calls after `warmup`: (median, p95), by the wall clock or
/// (`cpu`) by this thread's CPU clock (steadier on a busy machine; it misses work that `f`
/// hands to other threads).
pub fn time_runs(runs: usize, warmup: usize, cpu: bool, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..warmup {
        f();
    }
    let clock = || if cpu { thread_cpu_seconds() } else { wall_seconds() };
    let mut ms: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = clock();
            f();
            (clock() - t) * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[(ms.len() * 95 / 100).min(ms.len() - 1)])
}

fn wall_seconds() -> f64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// This thread's CPU time.
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return wall_seconds();
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Plan a lowered model (`graph` and its burn `net` with weights) and compile it into memory.
pub fn compile(graph: &nasc_core::ir::Graph, net: &nasc_burn::lower::Net) -> Result<(Plan, Jit), NativeError> {
    let p = plan::plan(graph, net)?;
    let jit = Jit::compile(&p)?;
    Ok((p, jit))
}

/// A model compiled into this process's memory.
pub struct Jit {
    module: Option<cranelift_jit::JITModule>,
    forward: extern "C" fn(*const f32, *mut f32, usize),
    /// Each step's function (it takes the scratch area) and what it computes, for profiles.
    steps: Vec<(extern "C" fn(*mut f32), String)>,
    scratch: *mut f32,
    /// Where one example's input goes in scratch.
    input_offset: usize,
    pub input_len: usize,
    pub output_len: usize,
    /// From the plan to callable code.
    pub compile_time: Duration,
}

impl Jit {
    pub fn compile(plan: &Plan) -> Result<Jit, NativeError> {
        let start = Instant::now();
        let b = cranelift_jit::JITBuilder::with_isa(isa(false)?, default_libcall_names());
        let mut module = cranelift_jit::JITModule::new(b);
        let d = define(&mut module, plan, "forward")?;
        module.finalize_definitions().map_err(err)?;
        let code = module.get_finalized_function(d.forward);
        // SAFETY: `code` is the finalized `forward`, defined above with exactly this signature
        // (two pointers and a 64-bit count, the platform's C convention), and it lives as long
        // as `module`, which this struct owns and frees only on drop.
        let forward = unsafe { std::mem::transmute::<*const u8, extern "C" fn(*const f32, *mut f32, usize)>(code) };
        let steps = d
            .steps
            .iter()
            .zip(&plan.steps)
            .map(|(&id, s)| {
                let code = module.get_finalized_function(id);
                // SAFETY: as above; every step is defined as `fn(scratch: *mut f32)`.
                let f = unsafe { std::mem::transmute::<*const u8, extern "C" fn(*mut f32)>(code) };
                (f, describe(s))
            })
            .collect();
        let scratch = module.get_finalized_data(d.scratch).0 as *mut f32;
        Ok(Jit {
            module: Some(module),
            forward,
            steps,
            scratch,
            input_offset: plan.input.offset,
            input_len: plan.input.len(),
            output_len: plan.output.len(),
            compile_time: start.elapsed(),
        })
    }

    /// Batch-1 latency in ms over `runs` forward passes after `warmup`: (median, p95). The
    /// input's values do not matter (the code has no data-dependent branches).
    pub fn latency(&mut self, runs: usize, warmup: usize, cpu: bool) -> (f64, f64) {
        let x = vec![0.5f32; self.input_len];
        let mut out = vec![0.0f32; self.output_len];
        time_runs(runs, warmup, cpu, || self.run_into(&x, &mut out, 1))
    }

    /// Time each step over `runs` forward passes of one example: (step, total ms), in order.
    pub fn profile(&mut self, input: &[f32], runs: usize) -> Vec<(String, f64)> {
        let mut total = vec![0.0; self.steps.len()];
        let n = self.input_len.min(input.len());
        for _ in 0..runs {
            // SAFETY: the scratch area holds the input at `input_offset` (the plan placed it
            // there, with room for `input_len` floats), and no forward pass is running: `self`
            // is borrowed mutably.
            unsafe { std::ptr::copy_nonoverlapping(input.as_ptr(), self.scratch.add(self.input_offset), n) };
            for (k, (f, _)) in self.steps.iter().enumerate() {
                let t = Instant::now();
                f(self.scratch);
                total[k] += t.elapsed().as_secs_f64() * 1e3;
            }
        }
        self.steps.iter().zip(total).map(|((_, d), t)| (d.clone(), t)).collect()
    }

    /// Run `batch` examples (`input` holds `batch · input_len` floats).
    pub fn run(&mut self, input: &[f32], batch: usize) -> Result<Vec<f32>, NativeError> {
        if input.len() != batch * self.input_len {
            return Err(NativeError(format!("{batch} examples need {} input floats, found {}", batch * self.input_len, input.len())));
        }
        let mut out = vec![0.0f32; batch * self.output_len];
        self.run_into(input, &mut out, batch);
        Ok(out)
    }

    /// Run into a caller's buffer (no allocation: what latency measurements time).
    pub fn run_into(&mut self, input: &[f32], out: &mut [f32], batch: usize) {
        let batch = batch.min(input.len() / self.input_len.max(1)).min(out.len() / self.output_len.max(1));
        (self.forward)(input.as_ptr(), out.as_mut_ptr(), batch);
    }
}

impl Drop for Jit {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: `forward` is never called after this (the struct is being dropped).
            unsafe { m.free_memory() };
        }
    }
}

/// A relocatable object file defining `symbol` (and nothing else global); it needs nothing at
/// link time.
pub fn object(plan: &Plan, symbol: &str) -> Result<Vec<u8>, NativeError> {
    if symbol.is_empty() || !symbol.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || symbol.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(NativeError(format!("`{symbol}` is not a C identifier")));
    }
    let b = cranelift_object::ObjectBuilder::new(isa(true)?, symbol.as_bytes().to_vec(), default_libcall_names()).map_err(err)?;
    let mut module = cranelift_object::ObjectModule::new(b);
    define(&mut module, plan, symbol)?;
    module.finish().emit().map_err(err)
}

/// A step in words: its kernel and the shapes it reads and writes.
fn describe(s: &plan::Step) -> String {
    let shapes = |vs: &[plan::View]| vs.iter().map(|v| format!("{:?}", &v.shape[1.min(v.shape.len())..])).collect::<Vec<_>>().join(", ");
    let name = format!("{:?}", s.kernel);
    let name = name.split([' ', '(', '{']).next().unwrap_or("").to_lowercase();
    format!("{name} {} → {}", shapes(&s.ins), shapes(&s.outs))
}

/// The C header for an object file from [`object`].
pub fn header(plan: &Plan, symbol: &str, model: &str, origin: &str) -> String {
    let guard = format!("NASC_{}_H", symbol.to_ascii_uppercase());
    let shape = |v: &plan::View| v.shape.iter().skip(1).map(usize::to_string).collect::<Vec<_>>().join(", ");
    let origin: String = origin.chars().map(|c| if c.is_control() || c == '*' { '?' } else { c }).collect();
    let up = symbol.to_ascii_uppercase();
    format!(
        "/* Model `{model}` compiled by nasc from {origin}. Regenerate instead of editing. */\n\
         #ifndef {guard}\n#define {guard}\n\n#include <stddef.h>\n\n\
         /* Floats per example: input [batch, {}], output [batch, {}] (row-major, channels last). */\n\
         #define {up}_INPUT_SIZE {}\n#define {up}_OUTPUT_SIZE {}\n\n\
         #ifdef __cplusplus\nextern \"C\" {{\n#endif\n\n\
         /* Run `batch` examples. Not reentrant: intermediate values live in one static buffer,\n   \
         so call it from one thread at a time. */\n\
         void {symbol}(const float *input, float *output, size_t batch);\n\n\
         #ifdef __cplusplus\n}}\n#endif\n\n#endif\n",
        shape(&plan.input),
        shape(&plan.output),
        plan.input.len(),
        plan.output.len(),
    )
}
