"""What every worker is started with, whatever isolates it.

- the Python it runs and the folders it imports from (`python_roots`), and the kit's folder
  it imports `grader` from (`KIT_PARENT`);
- a minimal environment (`worker_env`): no tokens, paths or CI variables of the judge;
- the placeholders a `wrap` (a sandbox's command line, see `sandbox.py`) leaves for the
  launcher (`launch.py`) to fill in per worker: SUBMISSION, USER and CGROUP.

The launcher, the sandbox and the secrecy rules (`secrecy.py`) all read these; this module
imports none of them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

KIT_PARENT = Path(__file__).resolve().parents[2]
# In a `wrap` (a sandbox's command line), SUBMISSION stands for the worker's submission folder;
# such a sandbox shows that folder to the worker at SANDBOXED_SUBMISSION.
SUBMISSION = "{submission}"
SANDBOXED_SUBMISSION = "/submission"
USER = "{user}"  # within an argument: the uid a worker becomes at the fallback as root
CGROUP = "{cgroup}"  # within an argument: the cgroup.procs file of the worker's cgroup

# The CPU code paths torch and its BLAS choose. Passed on when the grader's environment sets
# them, so that an instructor can reproduce a grade made on another CPU (and CI can test the
# kit on other code paths than this machine's): ATEN_CPU_CAPABILITY=default|avx2|avx512,
# MKL_ENABLE_INSTRUCTIONS=SSE4_2|AVX2|..., MKL_CBWR, OPENBLAS_CORETYPE.
CPU_PATH_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_CBWR",
    "OPENBLAS_CORETYPE",
)


WORKER_USER = "attention-worker"  # the user name a worker sees (USER, LOGNAME)
# Which GPUs a worker may use, passed on as the grader's environment sets them.
GPU_VARIABLES = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER")
GPU_DRIVER_LIBRARIES = ("libcuda.so*", "libnvidia-ml.so*")  # what CUDA loads from the driver
GPU_NODES = "/dev/nvidia[0-9]*"


def has_gpu_nodes() -> bool:
    return any(Path("/dev").glob(GPU_NODES.removeprefix("/dev/")))


def gpu_library_dirs() -> list[Path]:
    """Where this machine keeps the GPU driver's libraries, when the loader finds them through
    LD_LIBRARY_PATH (container images that mount the driver under /usr/local/nvidia, say):
    the worker's environment names them and a sandbox binds them. Empty without a GPU."""
    if not has_gpu_nodes():
        return []
    found = []
    for entry in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        folder = Path(entry) if entry else None
        if folder is None or not folder.is_absolute() or not folder.is_dir():
            continue
        if any(next(folder.glob(name), None) for name in GPU_DRIVER_LIBRARIES):
            found.append(folder.resolve())
    return list(dict.fromkeys(found))


def worker_env(home: str, threads: int) -> dict[str, str]:
    """A minimal environment: no tokens, paths or CI variables of the judge leak into it."""
    chosen = {
        name: os.environ[name] for name in CPU_PATH_VARIABLES + GPU_VARIABLES if name in os.environ
    }
    if libraries := gpu_library_dirs():
        chosen["LD_LIBRARY_PATH"] = os.pathsep.join(str(d) for d in libraries)
    return {
        **chosen,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        # A worker's uid has no passwd entry (the sandbox has no /etc/passwd; a user of its
        # own has none either): getpass.getuser() reads these first, and torch calls it (a
        # GPU build of torch 2.11 did, for a tensor on the meta device)
        "USER": WORKER_USER,
        "LOGNAME": WORKER_USER,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "ATTENTION_GRADER_THREADS": str(threads),
    }


def python_roots() -> list[Path]:
    """The Python installation(s) and the site-packages folders the worker imports from."""
    roots = {Path(sys.base_prefix), Path(sys.prefix)}
    for name in ("torch", "numpy", "safetensors"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            roots.add(Path(spec.origin).parent.parent)
    roots = {r.resolve() for r in roots}
    outside_usr = {r for r in roots if not r.is_relative_to("/usr")}
    return sorted(r for r in outside_usr if not any(r != o and r.is_relative_to(o) for o in roots))
