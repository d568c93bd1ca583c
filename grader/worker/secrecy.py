"""Close what a worker must not read to every user but the grader's, where permissions are
the wall (the fallback, when the worker runs as a user of its own: see `users.py`).

The worker needs the Python it runs (the interpreter, its standard library, the
site-packages holding torch, numpy and safetensors) and the kit's `grader/` package, whose
code is public (a learners' copy ships it). Everything else of the kit's folder is closed:
`solutions/` (the reference and the catalogue of mistakes), `tests/`, `fixtures/`, `.git`
(which holds the solutions' history), and whatever else lies there. Closing is `chmod
go-rwx` on each entry of the kit's folder (the folder itself stays listable: Python's import
system lists it to find `grader/`), so the owner and root read on as before; permission bits
only, nothing is moved. `close_all_but` does the same for a Gradescope folder.

`reachable` tells whether another user can run the Python the worker needs at all (a
Python installed under a private home, /root say, cannot be run by another user).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from grader import paths
from grader.worker.spawn import python_roots

OPEN_FOLDER = 0o755  # the folders on the way to what the worker needs


def needed() -> list[Path]:
    """What the worker must be able to read: the Python it runs and the kit's grader/."""
    return [Path(sys.executable).resolve(), *python_roots(), paths.KIT_ROOT / "grader"]


def reachable(path: Path) -> str:
    """Why another user cannot read `path`; "" when it can (every folder on the way open to
    others for search, the path itself for reading)."""
    path = path.resolve()
    for folder in reversed(path.parents):
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return f"{folder} is closed to other users"
    mode = os.stat(path).st_mode
    if not mode & stat.S_IROTH or (stat.S_ISDIR(mode) and not mode & stat.S_IXOTH):
        return f"{path} is closed to other users"
    return ""


def unreachable() -> str:
    """Why another user cannot run the worker's Python and the kit; "" when it can."""
    for path in needed():
        if problem := reachable(path):
            return problem
    return ""


def close(path: Path) -> None:
    """Take group and other permissions off `path` (not following a link)."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return  # a link has no permissions of its own; what it points to is dealt with apart
    os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)


def close_all_but(folder: Path, keep: list[Path]) -> None:
    """Close every entry of `folder` except those in `keep` and the folders on their way,
    which are opened for search (and reading, for those that hold one of `keep` directly).
    """
    folder = folder.resolve()
    keep = [k.resolve() for k in keep]
    for entry in sorted(folder.iterdir()):
        if entry.resolve() in keep:
            continue
        if any(k.is_relative_to(entry) for k in keep) and entry.is_dir():
            os.chmod(entry, OPEN_FOLDER)
            close_all_but(entry, keep)
        else:
            close(entry)


def lock_kit() -> list[str]:
    """Close the kit's folder but for grader/ (and a Python installed inside it); returns what
    is still readable by other users among the secrets (nothing, on filesystems that keep
    permissions)."""
    kit = paths.KIT_ROOT.resolve()
    keep = [kit / "grader", *(p for p in needed() if p.is_relative_to(kit))]
    close_all_but(kit, keep)
    return [str(p) for p in secrets_of(kit) if not reachable(p)]


def secrets_of(kit: Path) -> list[Path]:
    """The kit's entries that must stay closed."""
    return [
        kit / name
        for name in ("solutions", "tests", "fixtures", "exercises", ".git")
        if (kit / name).exists()
    ]
