"""Passive liveness (presentation-attack detection) with two MiniFASNets: which networks, their files.

Weights: MiniFASNetV2 and MiniFASNetV1SE of minivision-ai/Silent-Face-Anti-Spoofing,
commit b6d5f04, Apache License 2.0 (LICENSE and SOURCE.txt are installed beside them);
the networks (liveness.network) are our own implementation, matching those state_dicts key for key.
"""

from __future__ import annotations

from dataclasses import dataclass

from recognition.pipeline.errors import WeightsUnavailable

MODEL_VERSION = "minifasnet-v2+v1se-b6d5f04"
# Measured with MTCNN boxes (bench/liveness_bench.py): bona fide LFW photos are accepted 96.1% at
# 0.2 (90.3% at the reference's 0.5; 99% only at 0.005), and both shipped attack samples stay
# refused (0.171 and 0.004). Grey photos score ~0 whatever the threshold (ORL: 0%): the networks
# learnt colour cues of prints and screens.
DEFAULT_THRESHOLD = 0.2
INPUT_SIZE = 80
REAL_CLASS = 1
WEIGHTS_SUBDIR = "antispoof"
PROVENANCE_FILES = ("LICENSE", "SOURCE.txt")


@dataclass(frozen=True)
class MiniFASNetSpec:
    """One shipped network: its file, digest, crop scale and the pruned widths of its blocks."""

    name: str
    filename: str
    sha256: str
    scale: float  # crop = box scaled about its centre by this factor
    # Expansion widths of the depthwise blocks, stage by stage (the reference's pruned "keep" list).
    conv_23: int
    conv_3: tuple[int, ...]
    conv_34: int
    conv_4: tuple[int, ...]
    conv_45: int
    conv_5: tuple[int, ...]
    se: bool  # squeeze-and-excitation on the last block of each residual stage

    @property
    def onnx_filename(self) -> str:
        return f"minifasnet-{self.name}.onnx"


MINIFASNET_V2 = MiniFASNetSpec(
    name="v2",
    filename="2.7_80x80_MiniFASNetV2.pth",
    sha256="a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0",
    scale=2.7,
    conv_23=103, conv_3=(13, 13, 13, 13),
    conv_34=231, conv_4=(231, 52, 26, 77, 26, 26),
    conv_45=308, conv_5=(26, 26),
    se=False,
)
MINIFASNET_V1SE = MiniFASNetSpec(
    name="v1se",
    filename="4_0_0_80x80_MiniFASNetV1SE.pth",
    sha256="84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990",
    scale=4.0,
    conv_23=103, conv_3=(13, 26, 13, 52),
    conv_34=231, conv_4=(154, 52, 26, 52, 26, 26),
    conv_45=308, conv_5=(26, 26),
    se=True,
)
SPECS = (MINIFASNET_V2, MINIFASNET_V1SE)


class LivenessWeightsUnavailable(WeightsUnavailable):
    """The anti-spoofing weights are missing, or their SHA-256 is not the one we ship."""


class LivenessSourceMissing(LivenessWeightsUnavailable):
    """A file to install is absent from the source folder (nothing to verify or copy)."""


__all__ = ["DEFAULT_THRESHOLD", "INPUT_SIZE", "MINIFASNET_V1SE", "MINIFASNET_V2", "MODEL_VERSION", "PROVENANCE_FILES",
           "REAL_CLASS", "SPECS", "WEIGHTS_SUBDIR", "LivenessSourceMissing", "LivenessWeightsUnavailable",
           "MiniFASNetSpec"]
