"""The MiniFASNet networks (V2, and V1SE with squeeze-and-excitation), in PyTorch.

Our own implementation of minivision-ai/Silent-Face-Anti-Spoofing's networks, matching their
state_dicts key for key. Importing this module imports torch: the checker and the install
import it only for the torch backend and for the ONNX export.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from recognition.pipeline.liveness.specs import MiniFASNetSpec


class ConvBlock(nn.Module):
    """Conv (no bias), batch norm and, unless it is a linear block, a per-channel PReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, padding: int = 0,
                 groups: int = 1, prelu: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.prelu = nn.PReLU(c_out) if prelu else None

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.prelu is not None else x


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels // reduction)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        w = x.mean(dim=(2, 3), keepdim=True)
        w = self.bn2(self.fc2(self.bn1(self.fc1(w)).relu()))
        return x * w.sigmoid()


class DepthWise(nn.Module):
    """Inverted bottleneck: 1x1 expand, 3x3 depthwise, 1x1 linear projection."""

    def __init__(self, c_in: int, width: int, c_out: int, stride: int, residual: bool,
                 se: bool = False) -> None:
        super().__init__()
        self.conv = ConvBlock(c_in, width)
        self.conv_dw = ConvBlock(width, width, kernel=3, stride=stride, padding=1, groups=width)
        self.project = ConvBlock(width, c_out, prelu=False)
        self.se_module = SqueezeExcitation(c_out) if se else None
        self.residual = residual

    def forward(self, x):
        y = self.project(self.conv_dw(self.conv(x)))
        if self.se_module is not None:
            y = self.se_module(y)
        return x + y if self.residual else y


class Residual(nn.Module):
    def __init__(self, channels: int, widths: Sequence[int], se: bool) -> None:
        super().__init__()
        last = len(widths) - 1
        self.model = nn.Sequential(*(
            DepthWise(channels, w, channels, stride=1, residual=True, se=se and i == last)
            for i, w in enumerate(widths)
        ))

    def forward(self, x):
        return self.model(x)


class MiniFASNet(nn.Module):
    """MobileFaceNet-style classifier of 80x80 BGR crops (0-255) into 3 logits."""

    def __init__(self, spec: MiniFASNetSpec) -> None:
        super().__init__()
        self.conv1 = ConvBlock(3, 32, kernel=3, stride=2, padding=1)
        self.conv2_dw = ConvBlock(32, 32, kernel=3, padding=1, groups=32)
        self.conv_23 = DepthWise(32, spec.conv_23, 64, stride=2, residual=False)
        self.conv_3 = Residual(64, spec.conv_3, spec.se)
        self.conv_34 = DepthWise(64, spec.conv_34, 128, stride=2, residual=False)
        self.conv_4 = Residual(128, spec.conv_4, spec.se)
        self.conv_45 = DepthWise(128, spec.conv_45, 128, stride=2, residual=False)
        self.conv_5 = Residual(128, spec.conv_5, spec.se)
        self.conv_6_sep = ConvBlock(128, 512)
        # 80 px input is 5x5 after four stride-2 steps: a global depthwise 5x5 conv.
        self.conv_6_dw = ConvBlock(512, 512, kernel=5, groups=512, prelu=False)
        self.linear = nn.Linear(512, 128, bias=False)
        self.bn = nn.BatchNorm1d(128)
        self.prob = nn.Linear(128, 3, bias=False)

    def forward(self, x):
        for stage in (self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34,
                      self.conv_4, self.conv_45, self.conv_5, self.conv_6_sep, self.conv_6_dw):
            x = stage(x)
        x = x.flatten(1)
        return self.prob(self.bn(self.linear(x)))


def build_minifasnet(spec: MiniFASNetSpec) -> MiniFASNet:
    """An untrained MiniFASNet shaped like ``spec`` (V2, or V1SE with its SE blocks)."""
    return MiniFASNet(spec)


def load_state_dict_strict(model: torch.nn.Module, path: Path) -> None:
    """Load a reference .pth (saved from DataParallel: keys start with 'module.') with strict=True."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model.load_state_dict(state, strict=True)


__all__ = ["MiniFASNet", "build_minifasnet", "load_state_dict_strict"]
