#!/usr/bin/env python3
r"""Training throughput of nasc against PyTorch, measured in one run on the same machine.

For each model and batch size, runs `nasc bench` on benches/models/<model>.nas and
../shared/bench/torch_reference.py on the same architecture, one after the other (nasc first,
then torch, then the next model), and prints images/s of both and their ratio. Both use
--threads (nasc through RAYON_NUM_THREADS, torch through torch.set_num_threads).

Usage (from the repository root):
    python3 scripts/compare_torch.py --python /path/to/venv/bin/python \
        [--nasc target/release/nasc (default if built, else target/debug/nasc)] [--batches 64] [--steps 30] [--threads 2] \
        [--models mlp_digits,cnn_small,resnet18_cifar,dwsep_cifar] [--json] [--variant KEY=VALUE ...] [--other-nasc PATH ...] [--repeat N]
--other-nasc times another nasc binary in the same rounds (e.g. a copy built before a change).
With --repeat N every measurement of a model (nasc, torch, each variant) is taken N times in
turn and the medians are printed, with the median of the N per-round ratios: this machine's
speed drifts by tens of percent between minutes, and interleaving keeps both sides in the same
minutes.
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


def median(xs):
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def measure_round(a, bench, common, model, env, variants):
    """One round: nasc, torch, the burn-ops baseline (0 without --baseline), each variant."""
    nasc = run_json(bench + ["--device", a.device], env)["images_per_sec"]
    torch_device = a.torch_device or ("cpu" if a.device == "cpu" else "cuda")
    torch = run_json([a.python, a.torch_script, "--models", model, "--threads", str(a.threads), "--device", torch_device] + common,
                     env)["images_per_sec"]
    old = run_json(bench, dict(env, NASC_CPU_KERNELS="burn"))["images_per_sec"] if a.baseline else 0.0
    alt = [run_json([binary or a.nasc] + bench[1:], dict(env, **extra))["images_per_sec"] for _, binary, extra in variants]
    return nasc, torch, old, alt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="a Python with torch installed")
    release = os.path.join(ROOT, "target", "release", "nasc")
    # The dev build optimises burn, gemm and nasc's kernels fully, without debug assertions
    # (Cargo.toml), so it times the same.
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
    ap.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE",
                    help="also time nasc with this environment variable set (repeatable), e.g. NASC_SGEMM=gemm")
    ap.add_argument("--other-nasc", action="append", default=[], metavar="PATH",
                    help="also time this nasc binary (repeatable), e.g. a build from before a change")
    ap.add_argument("--repeat", type=int, default=1, help="rounds per model; medians are reported (default 1)")
    ap.add_argument("--device", default="cpu", help="nasc's --device: cpu, cuda, wgpu, wgpu:N (default cpu)")
    ap.add_argument("--torch-device", help="PyTorch's --device (default: cpu for nasc's cpu, else cuda)")
    a = ap.parse_args()
    if a.repeat < 1:
        sys.exit("--repeat must be at least 1")
    if any("=" not in v for v in a.variant):
        sys.exit("--variant takes KEY=VALUE")
    # Each variant: (label, binary, extra environment).
    variants = [(v, None, dict([v.split("=", 1)])) for v in a.variant]
    variants += [(os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p), p, {}) for p in a.other_nasc]
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    if not a.json:
        base = f"{'burn-ops img/s':>16}{'ratio':>8}" if a.baseline else ""
        base += "".join(f"{label:>22}{'ratio':>8}" for label, _, _ in variants)
        print(f"{'model':<16}{'batch':>6}{'nasc img/s':>13}{'torch img/s':>13}{'ratio':>8}" + base)
    for batch in [int(b) for b in a.batches.split(",")]:
        for model in a.models.split(","):
            # Fewer steps for the big model at big batches, so a full table stays under an hour.
            steps = a.steps if model != "resnet18_cifar" or batch < 64 else max(3, a.steps // 6)
            common = ["--batch", str(batch), "--steps", str(steps), "--warmup", str(min(a.warmup, steps))]
            bench = [a.nasc, "bench", os.path.join(ROOT, "benches", "models", model + ".nas")] + common
            rounds = [measure_round(a, bench, common, model, env, variants) for _ in range(a.repeat)]
            nasc_ips, torch_ips, old_ips = (median([r[i] for r in rounds]) for i in range(3))
            alt = [median([r[3][j] for r in rounds]) for j in range(len(variants))]
            alt_ratio = [median([r[3][j] / r[1] for r in rounds]) for j in range(len(variants))]
            ratio = median([r[0] / r[1] for r in rounds])
            row = {"model": model, "batch": batch, "steps": steps, "rounds": a.repeat, "nasc": nasc_ips,
                   "torch": torch_ips, "ratio": round(ratio, 3)}
            old = old_ips if a.baseline else None
            if old:
                row.update(burn_ops=old, burn_ops_ratio=round(old / torch_ips, 3))
            for (label, _, _), ips, r in zip(variants, alt, alt_ratio):
                row[label] = ips
                row[f"{label} ratio"] = round(r, 3)
            if a.json:
                print(json.dumps(row), flush=True)
            else:
                base = f"{row['burn_ops']:>16.1f}{row['burn_ops_ratio']:>7.2f}x" if old else ""
                base += "".join(f"{ips:>22.1f}{r:>7.2f}x" for ips, r in zip(alt, alt_ratio))
                print(f"{model:<16}{batch:>6}{nasc_ips:>13.1f}{torch_ips:>13.1f}{ratio:>7.2f}x" + base, flush=True)


if __name__ == "__main__":
    main()
