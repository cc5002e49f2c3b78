"""Whether CUDA is usable, answered without importing torch on machines with no NVIDIA driver.

`FACEREC_DEVICE=auto` used to import torch in every web and worker process only to learn
that there is no GPU: about 1.7 s on the first request and 480 MB of memory per process
(measured on a 2-core CPU machine: 874 MB against 398 MB after one identify). Without
the driver library (libcuda) torch cannot see a GPU either, so that case needs no torch;
where the library loads, torch is asked as before (only it knows whether its build can
use the device). Loading the library initialises nothing, so forking after it is safe.
"""

from __future__ import annotations

import ctypes
import functools

DRIVER_LIBRARIES = ("libcuda.so.1", "libcuda.so")


def has_cuda_driver() -> bool:
    """True when the NVIDIA CUDA driver library can be loaded in this process."""
    for name in DRIVER_LIBRARIES:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


@functools.cache
def cuda_available() -> bool:
    """torch.cuda.is_available(), without importing torch where there is no driver."""
    if not has_cuda_driver():
        return False
    import torch  # heavy: imported only where a CUDA driver is present

    return torch.cuda.is_available()


__all__ = ["cuda_available", "has_cuda_driver"]
