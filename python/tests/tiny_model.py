"""A tiny PyTorch model for edgebench's own tests (export, the torch engine, pipeline)."""

import torch
from torch import nn


def make():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )


def not_a_module():
    return 42


def noisy():
    """A model that prints on every call: its output must not reach the protocol."""

    class Noisy(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make()

        def forward(self, x):
            print("hello from forward")
            return self.net(x)

    return Noisy()


def vanishing():
    """A deep stack whose default initialisation shrinks the signal at every layer (as
    torchvision's mobilenet_v2 does): its logits are about 1e-13 before edgebench rescales."""
    layers = [nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()]
    for _ in range(10):
        layers += [nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)]
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.mul_(0.05)
                m.bias.zero_()
    return net


def given():
    """A model whose weights do not come from the global seed (as if loaded from a file):
    edgebench uses them as they are."""
    net = make()
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) - 0.5)
    return net
