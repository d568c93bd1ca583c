"""The worker: the only process that imports learner code.

Started by the judge (see `launch.py`) with the submission folder as its argument. It
loads that folder as the package `exercises`, so relative imports
(`from .causal_attention import ...`) and absolute ones (`from exercises.causal_attention
import ...`) both reach the submission's own modules. It then answers probe requests, one
frame in, one frame out, until stdin closes.

Nothing here is trusted: learner code shares this process and can tamper with it. The judge
therefore treats every reply as data to validate, enforces every deadline from outside and
never unpickles anything from here. What this file does is keep honest submissions'
failures readable: a stub's NotImplementedError becomes "not attempted", an exception
becomes its type, message and the learner's own frames, and `print` output goes to stderr,
where the judge collects it, instead of corrupting the reply stream.
"""

from __future__ import annotations

import faulthandler
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import traceback
from pathlib import Path

import safetensors.torch  # noqa: F401 - wire's tensor frames need it: imported before learner code
import torch

from grader.errors import ContractError
from grader.worker import probes, timing, watch, wire

PACKAGE = "exercises"
MAX_MESSAGE = 2000


def _take_protocol_streams():
    """Keep private copies of stdin/stdout for frames; point fd 0 at /dev/null, fd 1 at stderr."""
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    return proto_in, proto_out


def install_submission(folder: Path) -> None:
    """Make `folder` importable as the package `exercises`.

    The folder's own __init__.py, if any, is not run: the exercise modules are imported one
    by one, when a check first needs them, so a module that hangs or fails at import costs
    only its own exercises.
    """
    spec = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
    spec.submodule_search_locations = [str(folder)]
    sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)


class MissingModule(Exception):
    pass


def lookup(module: str, name: str):
    try:
        mod = importlib.import_module(f"{PACKAGE}.{module}")
    except ModuleNotFoundError as e:
        if e.name == f"{PACKAGE}.{module}":
            raise MissingModule(f"{module}.py is not in the submission") from None
        raise
    if not hasattr(mod, name):
        raise MissingModule(f"{module}.py defines no '{name}'")
    return getattr(mod, name)


def learner_frames(tb, folder: Path) -> list[dict]:
    """The traceback entries that lie in the submission's own files."""
    frames = []
    root = str(folder)
    for entry in traceback.extract_tb(tb):
        if entry.filename.startswith(root):
            frames.append(
                {
                    "file": os.path.relpath(entry.filename, root),
                    "line": entry.lineno,
                    "function": entry.name,
                    "code": (entry.line or "")[:200],
                }
            )
    return frames[-6:]


def classify(exc: BaseException, folder: Path) -> dict:
    """Turn an exception into the reply's status and error description."""
    frames = learner_frames(exc.__traceback__, folder)
    error = {"type": type(exc).__name__, "message": str(exc)[:MAX_MESSAGE], "frames": frames}
    if isinstance(exc, MissingModule) or (
        isinstance(exc, ModuleNotFoundError)
        and (exc.name or "").startswith(f"{PACKAGE}.")
        and not frames
    ):
        error["message"] = error["message"].replace(f"{PACKAGE}.", "", 1)
        return {"status": "missing", "error": error}
    if isinstance(exc, NotImplementedError) and frames:
        last = traceback.extract_tb(exc.__traceback__)[-1]
        if last.filename.startswith(str(folder)):
            return {"status": "not_attempted", "error": error}
    if isinstance(exc, ContractError):
        return {"status": "contract", "error": error}
    if isinstance(exc, SystemExit):
        error["message"] = f"the code called sys.exit({exc.code!r})"
    return {"status": "error", "error": error}


def run_probe(spec: dict, inputs: dict, lookup) -> tuple[dict, dict]:
    """Carry out one probe: a timing probe by timing.py (looked up when called), any other by
    probes.py. Both modules are imported before any learner code runs."""
    if spec["kind"] in timing.PROBES:
        return getattr(timing, spec["kind"])(spec, inputs, lookup)
    return probes.run_probe(spec, inputs, lookup)


STACK_BEFORE_DEADLINE = 0.3  # seconds


def serve(folder: Path) -> None:
    proto_in, proto_out = _take_protocol_streams()
    torch.set_num_threads(int(os.environ.get("ATTENTION_GRADER_THREADS", "1")))
    watch.install()
    install_submission(folder)
    wire.write_frame(proto_out, {"ready": True, "torch": torch.__version__, "pid": os.getpid()})
    while True:
        try:
            request, tensors = wire.read_frame(proto_in)
        except EOFError:
            return
        if request.get("op") == "exit":
            return
        reply: dict = {"id": request.get("id")}
        outputs: dict = {}
        watch.take()
        # Just before the judge's deadline, the stack goes to stderr: the judge reports where
        # a call that never answers was stuck (launch.stuck_at), and strips the dump.
        limit = request.get("timeout")
        if isinstance(limit, (int, float)) and limit > 2 * STACK_BEFORE_DEADLINE:
            faulthandler.dump_traceback_later(limit - STACK_BEFORE_DEADLINE, file=sys.__stderr__)
        try:
            if request.get("op") == "import":
                importlib.import_module(f"{PACKAGE}.{request['module']}")
                outputs, info = {}, {}
            else:
                outputs, info = run_probe(request["probe"], tensors, lookup)
            outputs = {k: wire.plain(v) for k, v in outputs.items()}
            reply.update(status="ok", info=info)
        except BaseException as exc:  # noqa: BLE001 - everything, SystemExit included, is reported
            outputs = {}
            reply.update(classify(exc, folder), info={})
        finally:
            faulthandler.cancel_dump_traceback_later()
        reply["info"]["calls"] = watch.take()
        try:
            wire.write_frame(proto_out, reply, outputs)
        except Exception as exc:  # an output that cannot be serialised, for instance
            wire.write_frame(
                proto_out,
                {
                    "id": request.get("id"),
                    "status": "error",
                    "error": {
                        "type": type(exc).__name__,
                        "message": str(exc)[:MAX_MESSAGE],
                        "frames": [],
                    },
                },
            )


def main(argv: list[str] | None = None) -> None:
    """argv: the submission folder, then the folder the kit was imported from (if any)."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]).resolve()
    if len(args) > 1:
        # That folder was only needed to import this harness (everything it uses is imported
        # by now): learner code gets the submission and the installed libraries, not the kit's
        # checkout, and so not solutions/.
        kit = os.path.abspath(args[1])
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != kit]
    serve(folder)
    sys.stdout.flush()
    os._exit(0)
