"""Where the read-only real face data lives: ../shared/data beside the checkout (CI too)."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("FACEREC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
LFW_DIR = SHARED_DATA / "lfw"
LFW_IMAGES = LFW_DIR / "lfw-deepfunneled"
ORL_DIR = SHARED_DATA / "att_faces"
