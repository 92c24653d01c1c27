#!/usr/bin/env python3
"""Accuracy parity: the same network, trained by nasc and by PyTorch with the same recipe on the
official Fashion-MNIST, several seeds each; prints both means and their difference.

The network is examples/resnet_fashion.nas, written out in PyTorch as nasc computes it:
  * 3×3 convs without bias; `same` padding (F.pad; for a stride-1 3×3 conv it is 1 on every
    side), and the downsampling blocks' stride-2 3×3 conv padded 1 on every side as torchvision
    does (`std.resnet`'s BasicBlockDown writes `padding: 1`);
  * batch norm (momentum 0.1, eps 1e-5), ReLU, a 1×1 stride-2 projection on the downsampling
    blocks' shortcut, global mean, dense 10.
The recipe is `nasc train`'s: AdamW (lr 3e-3, betas 0.9/0.999, eps 1e-5 as burn's, weight decay
1e-4 decoupled), one epoch of linear warm-up per step then cosine decay to 0 per step, gradient
norm clipped at 1 per parameter tensor (burn clips each parameter's gradient on its own, not the
global norm), batch 64 with the last partial batch kept, pixels /255 normalised with the
training set's mean and standard deviation, PyTorch's default initialisation (burn's defaults
match it: Kaiming-uniform with a = √5 for weights, U(±1/√fan_in) for biases).

  python3 scripts/compare_torch_accuracy.py --python /tmp/torchvenv/bin/python \
      [--nasc target/release/nasc] [--epochs 3] [--seeds 0,1,2] [--threads 2]

Runs nasc and PyTorch alternately, one training at a time, and appends each result to
--out (default runs/accuracy-parity.jsonl) so a stopped comparison resumes.
"""
import argparse
import json
import os
import subprocess
import sys

TORCH_SIDE = r'''
import gzip, json, math, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

seed, epochs, threads, data_dir = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
torch.manual_seed(seed)
np.random.seed(seed)
torch.set_num_threads(threads)

def idx(name, images):
    with gzip.open(f"{data_dir}/{name}", "rb") as f:
        b = f.read()
    if images:
        n, r, c = (int.from_bytes(b[k:k + 4], "big") for k in (4, 8, 12))
        return np.frombuffer(b, np.uint8, offset=16).reshape(n, 1, r, c)
    return np.frombuffer(b, np.uint8, offset=8).astype(np.int64)

xtr, ytr = idx("train-images-idx3-ubyte.gz", True), idx("train-labels-idx1-ubyte.gz", False)
xte, yte = idx("t10k-images-idx3-ubyte.gz", True), idx("t10k-labels-idx1-ubyte.gz", False)
xtr = torch.tensor(xtr, dtype=torch.float32) / 255.0
xte = torch.tensor(xte, dtype=torch.float32) / 255.0
mean, std = xtr.mean(), xtr.std(unbiased=False)
xtr, xte = (xtr - mean) / std, (xte - mean) / std
ytr, yte = torch.tensor(ytr), torch.tensor(yte)

def same_pad(x, k, s):
    # nasc's `same`: total padding max((ceil(n/s) - 1)·s + k - n, 0), the smaller half before.
    h = x.shape[-1]
    total = max((math.ceil(h / s) - 1) * s + k - h, 0)
    return F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))

class Conv(nn.Module):
    def __init__(self, cin, cout, k, s=1):
        super().__init__()
        self.k, self.s = k, s
        self.conv = nn.Conv2d(cin, cout, k, s, 0, bias=False)
    def forward(self, x):
        return self.conv(same_pad(x, self.k, self.s))

class Basic(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1, self.b1, self.c2, self.b2 = Conv(c, c, 3), nn.BatchNorm2d(c), Conv(c, c, 3), nn.BatchNorm2d(c)
    def forward(self, x):
        return F.relu(x + self.b2(self.c2(F.relu(self.b1(self.c1(x))))))

class Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout)
        self.c2, self.b2 = Conv(cout, cout, 3), nn.BatchNorm2d(cout)
        self.sc, self.sb = Conv(cin, cout, 1, 2), nn.BatchNorm2d(cout)
    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(self.sb(self.sc(x)) + y)

net = nn.Sequential(Conv(1, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), Basic(16), Down(16, 32), Basic(32), Down(32, 64), Basic(64),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
opt = torch.optim.AdamW(net.parameters(), lr=3e-3, betas=(0.9, 0.999), eps=1e-5, weight_decay=1e-4)
n, batch = len(ytr), 64
steps = math.ceil(n / batch)
total, warm = epochs * steps, steps * min(1.0, epochs)
step = 0
t0 = time.time()
for epoch in range(epochs):
    net.train()
    order = torch.randperm(n)
    for k in range(steps):
        i = order[k * batch:(k + 1) * batch]
        s = step
        lr = 3e-3 * (s + 1) / warm if s < warm else 3e-3 * 0.5 * (1 + math.cos(math.pi * min((s - warm) / max(total - warm, 1), 1.0)))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = F.cross_entropy(net(xtr[i]), ytr[i])
        opt.zero_grad()
        loss.backward()
        for p in net.parameters():
            torch.nn.utils.clip_grad_norm_([p], 1.0)
        opt.step()
        step += 1
net.eval()
with torch.no_grad():
    correct = sum((net(xte[j:j + 500]).argmax(1) == yte[j:j + 500]).sum().item() for j in range(0, len(yte), 500))
print(json.dumps({"test_accuracy": correct / len(yte), "seconds": time.time() - t0}))
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", required=True, help="a Python with torch and numpy")
    ap.add_argument("--nasc", default="target/release/nasc")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default="runs/accuracy-parity.jsonl")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    done = {}
    if os.path.exists(a.out):
        for line in open(a.out):
            r = json.loads(line)
            if r["epochs"] == a.epochs:
                done[(r["side"], r["seed"])] = r
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    for seed in [int(s) for s in a.seeds.split(",")]:
        for side in ["nasc", "torch"]:
            if (side, seed) in done:
                continue
            if side == "nasc":
                cmd = [a.nasc, "train", "examples/resnet_fashion.nas", "--data", f"fashion:{a.data}", "--epochs", str(a.epochs), "--seed", str(seed),
                       "--out", f"runs/parity-{seed}"]
                p = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if p.returncode != 0:
                    sys.exit(f"nasc failed: {p.stderr[-500:]}")
                acc = json.loads(p.stdout.strip().splitlines()[-1])
            else:
                p = subprocess.run([a.python, "-c", TORCH_SIDE, str(seed), str(a.epochs), str(a.threads), a.data], capture_output=True, text=True)
                if p.returncode != 0:
                    sys.exit(f"torch failed: {p.stderr[-500:]}")
                acc = json.loads(p.stdout.strip().splitlines()[-1])["test_accuracy"]
            r = {"side": side, "seed": seed, "epochs": a.epochs, "test_accuracy": acc}
            done[(side, seed)] = r
            with open(a.out, "a") as f:
                f.write(json.dumps(r) + "\n")
            print(f"{side:>5} seed {seed}: {acc * 100:.2f} %", file=sys.stderr)
    means = {}
    for side in ["nasc", "torch"]:
        accs = [r["test_accuracy"] for (s, _), r in done.items() if s == side]
        m = sum(accs) / len(accs)
        sd = (sum((x - m) ** 2 for x in accs) / max(len(accs) - 1, 1)) ** 0.5
        means[side] = m
        print(f"{side:>5}: mean {m * 100:.2f} % ± {sd * 100:.2f} (sd) over {len(accs)} seeds: " + ", ".join(f"{x * 100:.2f}" for x in accs))
    print(f"nasc − torch: {(means['nasc'] - means['torch']) * 100:+.2f} points ({a.epochs} epochs, official Fashion-MNIST 60,000 / 10,000)")


if __name__ == "__main__":
    main()
