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
