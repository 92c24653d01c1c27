#!/usr/bin/env python3
"""Where a training step's time goes: reads `perf script` output (recorded with
`--call-graph dwarf`) and attributes each sample to a phase (forward, backward, optimizer) and an
op kind, from the function names on its stack. Prints a table of percentages.

Usage (see benches/README.md):
    perf record --call-graph dwarf,16384 -F 200 -o /tmp/perf.data \
        target/debug/nasc bench benches/models/resnet18_cifar.nas --steps 3 --warmup 1
    perf script -i /tmp/perf.data | python3 scripts/perf_categories.py
"""
import collections, sys

# First match wins, searched from the innermost frame outwards. Patterns are substrings of
# demangled Rust symbols.
OPS = [
    ("conv (nasc kernels)", ["nasc_kernels::conv", "cpu::conv2d_nhwc", "ConvBackward"]),
    ("pool (nasc kernels)", ["nasc_kernels::pool", "cpu::pool2d_nhwc", "PoolBackward"]),
    ("batch norm (nasc kernels)", ["nasc_kernels::norm", "batch_norm_nhwc", "BatchNormBackward", "batch_norm_rows"]),
    ("conv (burn)", ["conv2d", "conv_transpose2d", "ConvOptions"]),
    ("batch norm (burn)", ["batch_norm"]),
    ("pool (burn)", ["max_pool2d", "avg_pool2d", "adaptive_avg_pool"]),
    ("dense / matmul", ["float_matmul", "matmul"]),
    ("cross-entropy", ["cross_entropy", "CrossEntropy", "log_softmax"]),
    ("relu / activations", ["relu", "gelu", "sigmoid", "silu", "tanh"]),
    ("mean / reductions", ["mean_dim", "sum_dim", "float_mean", "float_sum"]),
    ("add / mul (element-wise)", ["float_add", "float_mul", "float_sub", "float_div", "binary_op"]),
    ("layout copies (permute, reshape, contiguous)", ["to_contiguous", "copy_2d_tiled", "copy_contiguous", "permute", "swap_dims", "reshape"]),
    ("random inputs / data", ["Distribution", "random"]),
    ("gemm on a worker thread (conv or dense)", ["gemm_f32", "gemm_common"]),
]
PHASES = [
    ("optimizer", ["burn_optim", "Optimizer", "GradientsParams"]),
    ("backward", ["AutodiffServer::backward", "::backward"]),
    ("forward", ["Net::forward", "lower::Net", "nasc::lower"]),
]
IDLE = ["sched_yield", "futex", "rayon_core::sleep", "__schedule"]
ALLOC = ["malloc", "free", "realloc", "clear_page", "page_fault", "do_anonymous_page", "memset", "munmap", "mmap"]


def classify(frames):
    text = "\n".join(frames)
    phase = next((name for name, pats in PHASES if any(p in text for p in pats)), "other")
    leaf = frames[0] if frames else ""
    if any(a in leaf for a in ALLOC):
        return phase, "allocation / page faults"
    if any(i in f for f in frames[:4] for i in IDLE):
        return phase, "idle / waiting threads"
    # Outermost op first: a batch norm's element-wise adds count as batch norm. Samples on rayon
    # worker threads have no caller frames, so only their leaf tells the op.
    for f in reversed(frames):
        for name, pats in OPS:
            if any(p in f for p in pats):
                return phase, name
    return phase, "other"


def samples(stream):
    frames = []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                yield frames
            frames = []
        elif line.startswith(("\t", " ")):
            parts = line.strip().split(" ", 1)
            frames.append(parts[1] if len(parts) > 1 else parts[0])
    if frames:
        yield frames


def main():
    counts = collections.Counter()
    total = 0
    for frames in samples(sys.stdin):
        counts[classify(frames)] += 1
        total += 1
    if not total:
        sys.exit("no samples: record with `perf record --call-graph dwarf`")
    phases = [p for p, _ in PHASES] + ["other"]
    ops = sorted({op for _, op in counts}, key=lambda op: -sum(counts[(p, op)] for p in phases))
    print(f"{'op kind':<46}" + "".join(f"{p:>11}" for p in phases) + f"{'total':>9}")
    for op in ops:
        row = [100 * counts[(p, op)] / total for p in phases]
        print(f"{op:<46}" + "".join(f"{v:>10.1f}%" for v in row) + f"{sum(row):>8.1f}%")
    col = [100 * sum(counts[(p, op)] for op in ops) / total for p in phases]
    print(f"{'total':<46}" + "".join(f"{v:>10.1f}%" for v in col) + f"{100:>8.1f}%")
    print(f"({total} samples)")


if __name__ == "__main__":
    main()
