"""Reference parameter and MAC counts for the example models, from the reference implementations.

Run:  python3 tests/reference/reference_counts.py   (needs torch, torchvision, timm; CPU is enough)
The printed JSON is checked into tests/reference/reference_counts.json and compared against
`nasc build --report json` by tests/examples.rs.

Conventions (the same as nasc's): params are trainable parameters (BN running statistics are
buffers, not parameters); MACs count Conv2d and Linear multiply-accumulates at batch 1
(k*k*C_in/groups per output element, in*out per output row); bias adds, norms, activations,
pooling and residual adds are not MACs.
"""
import json

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class BasicBlock(nn.Module):
    """kuangliu/pytorch-cifar ResNet basic block (the αNAS paper's CIFAR ResNet-34)."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet34Cifar(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for planes, n, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
            for i in range(n):
                layers.append(BasicBlock(cin, planes, stride if i == 0 else 1))
                cin = planes
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(512, classes)

    def forward(self, x):
        y = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.linear(F.adaptive_avg_pool2d(y, 1).flatten(1))


class InceptionSmall(nn.Module):
    """examples/inception_small.nas: torchvision's Inception v3 stem conv and one InceptionC."""

    def __init__(self, classes=10):
        super().__init__()
        from torchvision.models.inception import BasicConv2d, InceptionC

        self.stem = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.mixed = InceptionC(32, channels_7x7=64)
        self.fc = nn.Linear(768, classes)

    def forward(self, x):
        y = self.mixed(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))


def count(model, size):
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    macs = [0]

    def conv_hook(m, inp, out):
        macs[0] += out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m, inp, out):
        macs[0] += out.numel() * m.in_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(conv_hook)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(linear_hook)
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    return {"params": params, "conv_linear_macs": macs[0]}


def main():
    out = {
        "resnet34_cifar": count(ResNet34Cifar(), 32),
        "resnet50": count(torchvision.models.resnet50(weights=None), 224),
        "efficientnet_b0": count(torchvision.models.efficientnet_b0(weights=None), 224),
        "mobilenet_v2": count(torchvision.models.mobilenet_v2(weights=None), 224),
        "convnext_tiny": count(torchvision.models.convnext_tiny(weights=None), 224),
        "densenet121": count(torchvision.models.densenet121(weights=None), 224),
        # timm's Attention uses F.scaled_dot_product_attention (no module hooks), so its
        # conv/linear MACs leave out the two attention matmuls.
        "vit_s16": count(timm.create_model("vit_small_patch16_224", pretrained=False), 224),
        "inception_small": count(InceptionSmall(), 32),
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "timm": timm.__version__},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
