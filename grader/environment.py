"""What grades: Python, torch and its build, the BLAS it calls, the CPU's vector unit, the device.

Reports name it (console footer, results.json, grading.json, the class summary) so that an
instructor can reproduce a grade on the same software. The learner's code runs in a worker
started from this same interpreter, so this is its environment too.
"""

from __future__ import annotations

import functools
import platform
import re
import sys

import numpy
import torch


@functools.cache
def describe() -> dict[str, str]:
    config = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", config)
    capability = getattr(torch.backends, "cpu", None)
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "build": f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU",
        "blas": blas.group(1) if blas else "unknown",
        "cpu": capability.get_cpu_capability() if capability else "unknown",
        "numpy": numpy.__version__,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU",
        "platform": f"{sys.platform}-{platform.machine()}",
    }


def one_line(env: dict[str, str] | None = None) -> str:
    """'Python 3.11.7, torch 2.14.1+cu130 (CUDA 13.0 build, mkl, AVX512), numpy 2.4.6, no GPU'."""
    e = env or describe()
    return (
        f"Python {e['python']}, torch {e['torch']} ({e['build']} build, {e['blas']}, "
        f"{e['cpu']}), numpy {e['numpy']}, {e['device']}"
    )
