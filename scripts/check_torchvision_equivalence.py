#!/usr/bin/env python3
"""Are nasc's examples torchvision's functions, not just its parameter and MAC counts?

For each pair (torchvision constructor, nasc example):
  1. the torchvision model is built without pretrained weights and every parameter and
     batch-norm statistic is set to random values (so no norm is an identity and no layer
     scale is 1e-6);
  2. its tensors are saved as safetensors in the order the forward pass uses them (recorded
     with forward hooks: a leaf module's tensors when it runs, a module's own tensors, such as
     ConvNeXt's layer scale, when it finishes), that order written in the file's metadata;
  3. `nasc infer EXAMPLE --weights W.safetensors --weights-by position` loads them one for one
     (each shape checked) and runs the same random input, channels last;
  4. the largest difference of the logits over the largest |logit| must be at most --tol;
  5. every norm's eps must be torchvision's, norm by norm in forward order (against the module
     `nasc build --emit torch` writes for the example): an eps of 1e-5 instead of 1e-6 moves the
     logits by less than the tolerance when activations are large, so it is checked directly.

Needs a Python with torch, torchvision, safetensors and numpy:
  /tmp/torchvenv/bin/python scripts/check_torchvision_equivalence.py --nasc target/debug/nasc
Prints a Markdown table; exit 1 if any model differs.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision
from safetensors.torch import save_file

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from torch_checks import emitted_module, randomise  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent

PAIRS = [
    ("resnet50", "examples/resnet50.nas"),
    ("mobilenet_v2", "examples/mobilenet_v2.nas"),
    ("efficientnet_b0", "examples/efficientnet_b0.nas"),
    ("convnext_tiny", "examples/convnext_tiny.nas"),
    ("densenet121", "examples/densenet121.nas"),
]




def forward_order(model, x):
    """Tensor names in the order the forward pass uses them."""
    order, seen = [], set()
    names = {m: n for n, m in model.named_modules()}

    def record(m, *_):
        if m in seen:
            return
        seen.add(m)
        prefix = names[m] + "." if names[m] else ""
        own = list(m.named_parameters(recurse=False)) + list(m.named_buffers(recurse=False))
        order.extend(prefix + n for n, t in own if t.is_floating_point())

    hooks = [m.register_forward_hook(record) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return order


def norms(model, x):
    """(kind, eps) of every norm layer, in the order the forward pass runs them."""
    found = []
    kinds = [(torch.nn.modules.batchnorm._BatchNorm, "batch_norm"), (torch.nn.LayerNorm, "layer_norm"), (torch.nn.GroupNorm, "group_norm")]

    def record(m, *_):
        for cls, kind in kinds:
            if isinstance(m, cls):
                found.append((kind, m.eps))

    hooks = [m.register_forward_hook(record) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return found




def eps_mismatch(nasc, model, example, x, tmp):
    theirs = norms(model, x)
    ours = norms(emitted_module(nasc, ROOT / example, tmp / "emitted.py")().eval(), x.permute(0, 2, 3, 1))
    if len(theirs) != len(ours):
        return f"{len(theirs)} norms in torchvision, {len(ours)} in nasc"
    for k, ((tk, te), (ok, oe)) in enumerate(zip(theirs, ours)):
        if tk != ok or abs(te - oe) > 1e-12:
            return f"norm {k + 1}: torchvision {tk} eps {te:g}, nasc {ok} eps {oe:g}"
    return None


def check(nasc, tv_name, example, tmp, tol, size):
    gen = torch.Generator().manual_seed(0)
    model = getattr(torchvision.models, tv_name)(weights=None)
    model.eval()
    randomise(model, gen)
    x = torch.randn([2, 3, size, size], generator=gen)
    order = forward_order(model, x)
    state = model.state_dict()
    missing = [k for k, v in state.items() if v.is_floating_point() and k not in order]
    if missing:
        raise RuntimeError(f"tensors the forward pass never used: {missing[:5]}")
    weights = tmp / f"{tv_name}.safetensors"
    save_file({k: state[k].contiguous() for k in order}, weights, metadata={"order": json.dumps(order)})
    np.save(tmp / "x.npy", x.permute(0, 2, 3, 1).contiguous().numpy())
    cmd = [nasc, "infer", ROOT / example, "--weights", weights, "--weights-by", "position", "--input", tmp / "x.npy", "-o", tmp / "y.npy"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip().splitlines()[-1])
    with torch.no_grad():
        want = model(x).numpy()
    got = np.load(tmp / "y.npy")
    d = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-6))
    eps = eps_mismatch(nasc, model, example, x[:1], tmp)
    return {"model": tv_name, "example": example, "tensors": len(order), "rel_diff": d, "eps": eps or "same", "ok": d <= tol and eps is None}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nasc", default=str(ROOT / "target" / "debug" / "nasc"))
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--only", help="comma-separated torchvision names")
    a = ap.parse_args()
    torch.set_num_threads(1)
    pairs = [p for p in PAIRS if not a.only or p[0] in a.only.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for tv_name, example in pairs:
            try:
                r = check(a.nasc, tv_name, example, pathlib.Path(d), a.tol, 224)
            except Exception as e:  # one model's failure is reported; the others still run
                r = {"model": tv_name, "example": example, "ok": False, "error": str(e)}
            rows.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}; random weights and statistics, batch 2, 224×224, eval mode\n")
    print("| torchvision | nasc example | tensors | max rel. difference of the logits | norms' eps | |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if "error" in r:
            print(f"| {r['model']} | `{r['example']}` | | | | {r['error']} |")
        else:
            print(f"| {r['model']} | `{r['example']}` | {r['tensors']} | {r['rel_diff']:.1e} | {r['eps']} | {'ok' if r['ok'] else 'FAIL'} |")
    sys.exit(0 if all(r["ok"] for r in rows) else 1)


if __name__ == "__main__":
    main()
