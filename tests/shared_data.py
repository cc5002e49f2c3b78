"""Where the read-only real face data lives: ../shared/data beside the checkout (CI too)."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("FACEREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
LFW_DIR = SHARED_DATA / "lfw"
LFW_IMAGES = LFW_DIR / "lfw-deepfunneled"
ORL_DIR = SHARED_DATA / "att_faces"
# The MiniFASNet liveness weights `make weights` installs from, and the reference's sample photos.
ANTISPOOF_SOURCE = REPO_ROOT.parent / "shared" / "models" / "antispoof"


def lfw_bytes(person: str = "George_W_Bush", n: int = 1) -> bytes:
    """The bytes of LFW photo `n` of `person` (a folder name: "Colin_Powell")."""
    return (LFW_IMAGES / person / f"{person}_{n:04d}.jpg").read_bytes()
