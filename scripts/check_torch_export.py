#!/usr/bin/env python3
"""Check `nasc build --emit torch`: for each model, the emitted PyTorch module must have nasc's
parameter and MAC counts and compute nasc's function.

For each .nas file:
  1. `nasc build FILE --emit torch` is imported as a module;
  2. its parameters are counted, and its MACs (multiply-accumulates of matrix products and
     convolutions at batch 1, as nasc counts them), against `nasc build FILE --report json`;
  3. every parameter and batch-norm statistic is set to random values (so no layer is an
     identity), saved as safetensors under the module's names, and loaded by
     `nasc infer FILE --weights W.safetensors` (by name);
  4. both run the same random input (channels last) in evaluation mode: the largest difference
     over the largest |output| must be at most --tol.
And once, the other direction: `nasc train --weights-format safetensors` on the bundled digits,
loaded into the emitted module with `load_state_dict(strict=True)`, gives nasc's outputs.

Needs a Python with torch, safetensors and numpy:
  python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch safetensors numpy
  /tmp/torchvenv/bin/python scripts/check_torch_export.py --nasc target/debug/nasc [FILES...]
Without FILES: every model in examples/ (not the hole examples). Exit 1 if any check fails.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from torch_checks import emitted_module, randomise, rel_diff  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{p.stderr}")
    return p.stdout






def macs(model, x):
    """Multiply-accumulates at batch 1: PyTorch's FLOP counter (matrix products and convolutions,
    attention's included) halved."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x[:1])
    return counter.get_total_flops() // 2






def check(nasc, nas, tmp, tol, batch):
    stem = nas.stem
    report = json.loads(run([nasc, "build", nas, "--report", "json"]))
    model = emitted_module(nasc, nas, tmp / f"{stem}_module.py")()
    model.eval()
    gen = torch.Generator().manual_seed(0)
    randomise(model, gen)
    dims = report["inputs"][0].strip("[]").split(",")
    shape = [batch] + [int(d) for d in dims[1:]]
    x = torch.randn(shape, generator=gen)
    params = sum(p.numel() for p in model.parameters())
    n_macs = macs(model, x)
    weights = tmp / f"{stem}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}, weights)
    np.save(tmp / f"{stem}_x.npy", x.numpy())
    run([nasc, "infer", nas, "--weights", weights, "--input", tmp / f"{stem}_x.npy", "-o", tmp / f"{stem}_y.npy"])
    y_nasc = np.load(tmp / f"{stem}_y.npy")
    with torch.no_grad():
        y_torch = model(x).numpy()
    d = rel_diff(y_torch, y_nasc)
    ok = params == report["params"] and n_macs == report["macs"] and d <= tol
    return {"model": stem, "params": params, "nasc_params": report["params"], "macs": n_macs, "nasc_macs": report["macs"], "rel_diff": d, "ok": ok}


def check_trained(nasc, tmp, tol):
    """nasc → PyTorch: weights trained by nasc load into the emitted module as they are."""
    nas = ROOT / "examples" / "cnn_digits.nas"
    run([nasc, "train", nas, "--data", "digits", "--epochs", "1", "--weights-format", "safetensors", "--out", tmp / "trained", "--quiet"])
    model = emitted_module(nasc, nas, tmp / "trained_module.py")()
    model.load_state_dict(load_file(tmp / "trained" / "weights.safetensors"), strict=True)
    model.eval()
    x = torch.randn([4, 8, 8, 1], generator=torch.Generator().manual_seed(1))
    np.save(tmp / "trained_x.npy", x.numpy())
    run([nasc, "infer", nas, "--weights", tmp / "trained" / "weights.safetensors", "--input", tmp / "trained_x.npy", "-o", tmp / "trained_y.npy"])
    with torch.no_grad():
        d = rel_diff(model(x).numpy(), np.load(tmp / "trained_y.npy"))
    return {"model": "cnn_digits (trained by nasc, strict load)", "rel_diff": d, "ok": d <= tol}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=pathlib.Path)
    ap.add_argument("--nasc", default=str(ROOT / "target" / "debug" / "nasc"))
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=2)
    a = ap.parse_args()
    files = a.files or sorted((ROOT / "examples").glob("*.nas"))
    torch.set_num_threads(1)
    rows, failed = [], False
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        for nas in files:
            try:
                r = check(a.nasc, nas, tmp, a.tol, a.batch)
            except Exception as e:  # a failure of one model is reported, the others still run
                r = {"model": nas.stem, "ok": False, "error": str(e).strip().splitlines()[-1]}
            rows.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
        rows.append(check_trained(a.nasc, tmp, a.tol))
    print("| model | params (torch / nasc) | MACs (torch / nasc) | max rel. difference | |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        failed |= not r["ok"]
        if "error" in r:
            print(f"| {r['model']} | | | | error: {r['error']} |")
            continue
        p = f"{r['params']:,} / {r['nasc_params']:,}" if "params" in r else ""
        m = f"{r['macs']:,} / {r['nasc_macs']:,}" if "macs" in r else ""
        print(f"| {r['model']} | {p} | {m} | {r['rel_diff']:.1e} | {'ok' if r['ok'] else 'FAIL'} |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
