#!/usr/bin/env python3
r"""Batch-1 inference latency: nasc's compiled forward (cranelift), burn's forward, and PyTorch
(`torch.inference_mode()`, eval mode), measured in one run on the same machine, one thread each.

For each model: `nasc bench --latency --json` on benches/models/<model>.nas (compiled code and
burn, RAYON_NUM_THREADS=1), then the same architecture from ../shared/bench/torch_reference.py
in PyTorch with torch.set_num_threads(1); then the next model. Prints median and p95 in ms and
the ratios compiled/burn and compiled/torch (below 1: the compiled code is faster).

Usage (from the repository root):
    python3 scripts/compare_latency.py --python /path/to/venv/bin/python \
        [--nasc target/release/nasc] [--runs 200] [--models cnn_small,dwsep_cifar,resnet18_cifar,mlp_digits]
        [--cpu-time] [--json]
The venv needs `pip install torch`; nothing here downloads anything.
"""
import argparse, json, os, sys

from compare_torch import run_json  # same directory: the one JSON-running helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_SCRIPT = os.path.join(ROOT, "..", "shared", "bench", "torch_reference.py")

TORCH_SIDE = r"""
import importlib.util, json, statistics, sys, time
import torch
spec = importlib.util.spec_from_file_location("ref", sys.argv[1])
ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
torch.set_num_threads(1)
model, shape = getattr(ref, sys.argv[2])()
model.eval()
runs = int(sys.argv[3])
clock = time.thread_time if sys.argv[4] == "cpu" else time.perf_counter
x = torch.randn(1, *shape)
with torch.inference_mode():
    for _ in range(runs // 10 + 3):
        model(x)
    ms = []
    for _ in range(runs):
        t = clock(); model(x); ms.append((clock() - t) * 1e3)
ms.sort()
print(json.dumps({"median": ms[len(ms) // 2], "p95": ms[min(len(ms) - 1, len(ms) * 95 // 100)], "torch": torch.__version__}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="a Python with torch installed")
    release = os.path.join(ROOT, "target", "release", "nasc")
    ap.add_argument("--nasc", default=release if os.path.exists(release) else os.path.join(ROOT, "target", "debug", "nasc"))
    ap.add_argument("--torch-script", default=TORCH_SCRIPT)
    ap.add_argument("--models", default="cnn_small,dwsep_cifar,resnet18_cifar,mlp_digits")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--json", action="store_true", help="one JSON line per model")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with each side's thread CPU clock instead of the wall clock (steadier on a busy machine)")
    a = ap.parse_args()
    env = dict(os.environ, RAYON_NUM_THREADS="1", OMP_NUM_THREADS="1")
    if not a.json:
        print(f"{'model':<16}{'compiled ms':>12}{'p95':>9}{'burn ms':>10}{'p95':>9}{'torch ms':>10}{'p95':>9}"
              f"{'c/burn':>8}{'c/torch':>9}{'compile ms':>12}")
    for model in a.models.split(","):
        runs = a.runs if model != "resnet18_cifar" else max(20, a.runs // 5)
        cpu = ["--cpu-time"] if a.cpu_time else []
        n = run_json([a.nasc, "bench", "--latency", "--json", "--runs", str(runs), *cpu, os.path.join(ROOT, "benches", "models", model + ".nas")], env)
        t = run_json([a.python, "-c", TORCH_SIDE, a.torch_script, model, str(runs), "cpu" if a.cpu_time else "wall"], env)
        c, b = n["native_ms"], n["burn_ms"]
        row = {"model": model, "runs": runs, "compiled": c, "burn": b, "torch": t, "compile_ms": n["compile_ms"],
               "compiled_over_burn": c["median"] / b["median"], "compiled_over_torch": c["median"] / t["median"]}
        if a.json:
            print(json.dumps(row))
        else:
            print(f"{model:<16}{c['median']:>12.3f}{c['p95']:>9.3f}{b['median']:>10.3f}{b['p95']:>9.3f}{t['median']:>10.3f}{t['p95']:>9.3f}"
                  f"{row['compiled_over_burn']:>8.2f}{row['compiled_over_torch']:>9.2f}{n['compile_ms']:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
