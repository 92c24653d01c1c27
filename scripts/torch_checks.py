"""Helpers shared by check_torch_export.py and check_torchvision_equivalence.py (needs torch)."""
import importlib.util
import subprocess

import numpy as np
import torch


def randomise(model, gen):
    """Every parameter and batch-norm statistic random, so no layer is an identity."""
    with torch.no_grad():
        for _, p in model.named_parameters():
            fan = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=gen) / max(fan, 1) ** 0.5)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)


def rel_diff(a, b):
    """The largest |a - b| over the largest |b|."""
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-6))


def emitted_module(nasc, nas, path):
    """`nasc build NAS --emit torch` written to `path` and imported; its model class."""
    path.write_text(subprocess.run([nasc, "build", nas, "--emit", "torch"], capture_output=True, text=True, check=True).stdout)
    name = f"emitted_{path.stem}_{path.stat().st_mtime_ns}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return [v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == name][0]
