#!/usr/bin/env python3
r"""Training throughput of nasc against PyTorch, measured in one run on the same machine.

For each model and batch size, runs `nasc bench` on benches/models/<model>.nas and
../shared/bench/torch_reference.py on the same architecture, one after the other (nasc first,
then torch, then the next model), and prints images/s of both and their ratio. Both use
--threads (nasc through RAYON_NUM_THREADS, torch through torch.set_num_threads).

Usage (from the repository root):
    python3 scripts/compare_torch.py --python /path/to/venv/bin/python \
        [--nasc target/release/nasc (default if built, else target/debug/nasc)] [--batches 64] [--steps 30] [--threads 2] \
        [--models mlp_digits,cnn_small,resnet18_cifar,dwsep_cifar] [--json]
The venv needs `pip install torch`; nothing here downloads anything.
"""
import argparse, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_SCRIPT = os.path.join(ROOT, "..", "shared", "bench", "torch_reference.py")


def run_json(cmd, env):
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"cannot run {cmd[0]}: {e} (see --help: --python needs a Python with torch, --nasc a built nasc)")
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr.strip()}")
    out = done.stdout
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if not lines:
        sys.exit(f"no JSON from {' '.join(cmd)}:\n{out}")
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="a Python with torch installed")
    release = os.path.join(ROOT, "target", "release", "nasc")
    # The dev build optimises burn, gemm and nasc's kernels fully (Cargo.toml), so it times the same.
    ap.add_argument("--nasc", default=release if os.path.exists(release) else os.path.join(ROOT, "target", "debug", "nasc"),
                    help="the nasc binary (default: target/release/nasc if built, else target/debug/nasc)")
    ap.add_argument("--torch-script", default=TORCH_SCRIPT)
    ap.add_argument("--models", default="mlp_digits,cnn_small,resnet18_cifar,dwsep_cifar")
    ap.add_argument("--batches", default="64", help="comma-separated batch sizes")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="one JSON line per model and batch")
    ap.add_argument("--baseline", action="store_true",
                    help="also time nasc with NASC_CPU_KERNELS=burn (burn-flex's own conv/pool/norm ops, the state before nasc's kernels)")
    a = ap.parse_args()
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    if not a.json:
        base = f"{'burn-ops img/s':>16}{'ratio':>8}" if a.baseline else ""
        print(f"{'model':<16}{'batch':>6}{'nasc img/s':>13}{'torch img/s':>13}{'ratio':>8}" + base)
    for batch in [int(b) for b in a.batches.split(",")]:
        for model in a.models.split(","):
            # Fewer steps for the big model at big batches, so a full table stays under an hour.
            steps = a.steps if model != "resnet18_cifar" or batch < 64 else max(3, a.steps // 6)
            common = ["--batch", str(batch), "--steps", str(steps), "--warmup", str(min(a.warmup, steps))]
            bench = [a.nasc, "bench", os.path.join(ROOT, "benches", "models", model + ".nas")] + common
            nasc = run_json(bench, env)
            torch = run_json([a.python, a.torch_script, "--models", model, "--threads", str(a.threads)] + common, env)
            old = run_json(bench, dict(env, NASC_CPU_KERNELS="burn")) if a.baseline else None
            ratio = nasc["images_per_sec"] / torch["images_per_sec"]
            row = {"model": model, "batch": batch, "steps": steps, "nasc": nasc["images_per_sec"],
                   "torch": torch["images_per_sec"], "ratio": round(ratio, 3)}
            if old:
                row.update(burn_ops=old["images_per_sec"], burn_ops_ratio=round(old["images_per_sec"] / torch["images_per_sec"], 3))
            if a.json:
                print(json.dumps(row), flush=True)
            else:
                base = f"{row['burn_ops']:>16.1f}{row['burn_ops_ratio']:>7.2f}x" if old else ""
                print(f"{model:<16}{batch:>6}{nasc['images_per_sec']:>13.1f}{torch['images_per_sec']:>13.1f}{ratio:>7.2f}x" + base, flush=True)


if __name__ == "__main__":
    main()
