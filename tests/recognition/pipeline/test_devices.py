"""recognition.pipeline.devices: CUDA is looked for without importing torch where no driver is."""

import ctypes
import json
import subprocess
import sys

import torch

from recognition.pipeline import devices
from tests.conftest import REPO_ROOT

PROBE = """
import json, sys
from recognition.pipeline.devices import cuda_available, has_cuda_driver
print(json.dumps([cuda_available(), "torch" in sys.modules, has_cuda_driver()]))
"""


def test_the_answer_is_torchs_and_torch_is_imported_only_where_there_is_a_driver():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120, check=True)
    available, torch_imported, driver = json.loads(result.stdout)
    assert available == torch.cuda.is_available()
    assert torch_imported == driver


def test_without_the_driver_library_there_is_no_gpu(monkeypatch):
    def missing(name, *args, **kwargs):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", missing)
    assert devices.has_cuda_driver() is False
    assert devices.cuda_available.__wrapped__() is False


def test_with_the_driver_library_torch_decides(monkeypatch):
    monkeypatch.setattr(ctypes, "CDLL", lambda name, *args, **kwargs: object())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert devices.cuda_available.__wrapped__() is True
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.cuda_available.__wrapped__() is False
