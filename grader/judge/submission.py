"""Find a submission's modules in a folder, a .zip or one file, and copy them somewhere private.

The worker imports from the copy, never from the original, so learner code cannot change the
files an instructor keeps, and a zip is unpacked with the usual guards (no absolute paths, no
`..`, no links, bounded size). A single .py or .ipynb holding all the exercises is unfolded
into the four modules (see grader/judge/unfold.py).

Everything is measured before it is read (the limits: grader/judge/submission_limits.py): a
folder is surveyed with `lstat` alone (its files' count, their sizes, how deep it goes)
before anything is copied, and a zip by its index before anything is unpacked. A special file (a FIFO, a device, a socket) is refused, since
copying one would hang or read without end, and the copy opens each file without following
links or blocking, and reads no more than the limit, whatever happened since the survey. An
exercise module over MAX_MODULE_BYTES, or nested deeper than MAX_NESTING levels of syntax
(Python's own parser gives up near 3,000), is refused: the judge parses the modules for
forbidden calls (grader/judge/rules.py) and reads none it cannot parse safely. Each refusal
is a SubmissionError that says what to fix.
"""

from __future__ import annotations

import ast
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader import paths
from grader.errors import SubmissionError
from grader.judge.submission_limits import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_FILES,
    MAX_MODULE_BYTES,
    MAX_NESTING,
)
from grader.judge.unfold import write_folder
from grader.paths import MODULES

IGNORED = ("__pycache__", "*.pyc", ".git", ".ipynb_checkpoints", "__MACOSX")
_MODULE_FILES = {f"{m}.py" for m in MODULES}
SPECIAL = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


@dataclass
class Submission:
    origin: str  # what was asked for
    folder: Path  # the private copy holding the modules
    modules: list[str]  # which of the kit's modules it has
    _tmp: tempfile.TemporaryDirectory = field(repr=False)

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> Submission:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def module_folder(root: Path) -> Path | None:
    """The folder (root itself, or below it, at most 3 levels) holding most of the modules."""
    best, best_count = None, 0
    for depth in range(4):
        for folder in [root] if depth == 0 else root.glob("/".join(["*"] * depth)):
            if not folder.is_dir() or any(part in IGNORED for part in folder.parts):
                continue
            if any(p.is_symlink() for p in [folder, *folder.parents][:depth]):
                continue  # a link could lead anywhere: not copied either (see _ignore)
            count = sum((folder / f"{m}.py").is_file() for m in MODULES)
            if count > best_count:
                best, best_count = folder, count
        if best_count:
            return best
    return None


def _ignore(folder: str, names: list[str]) -> set[str]:
    """Caches, VCS folders and every symbolic link (it could point anywhere) stay behind."""
    skipped = set(shutil.ignore_patterns(*IGNORED)(folder, names))
    return skipped | {n for n in names if (Path(folder) / n).is_symlink()}


def _survey(folder: Path) -> None:
    """Refuse `folder` (what would be copied of it) if it is too large, holds too many files,
    goes too deep or holds a special file; from `lstat` alone, before anything is read."""
    count, total, todo = 0, 0, [(folder, 0)]
    while todo:
        current, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise SubmissionError(f"{folder} has folders more than {MAX_DEPTH} levels deep")
        with os.scandir(current) as found:
            entries = list(found)
        skipped = _ignore(str(current), [e.name for e in entries])
        for entry in entries:
            if entry.name in skipped:
                continue
            info = entry.stat(follow_symlinks=False)
            mode, where = info.st_mode, Path(entry.path).relative_to(folder)
            if stat.S_IFMT(mode) in SPECIAL:
                raise SubmissionError(
                    f"{where} in {folder} is {SPECIAL[stat.S_IFMT(mode)]}, not a file: a "
                    "submission holds only files and folders"
                )
            count += 1
            if stat.S_ISDIR(mode):
                todo.append((Path(entry.path), depth + 1))
                continue
            total += info.st_size
            if depth == 0 and entry.name in _MODULE_FILES and info.st_size > MAX_MODULE_BYTES:
                raise SubmissionError(_too_large(where, info.st_size))
        if count > MAX_FILES or total > MAX_BYTES:
            raise SubmissionError(
                f"{folder} is too large to be a submission (at most {MAX_FILES} files and "
                f"{MAX_BYTES >> 20} MB)"
            )


def _too_large(name: object, size: int) -> str:
    return (
        f"{name} is {size:,} bytes: an exercise module may hold at most {MAX_MODULE_BYTES:,} "
        "bytes (the grader reads it to check the rules)"
    )


class _BoundedCopy:
    """copytree's copy function: each file opened without following a link or blocking on a
    FIFO, refused unless it is a regular file, and at most MAX_BYTES read in all."""

    def __init__(self) -> None:
        self.left = MAX_BYTES

    def __call__(self, src: str, dst: str) -> None:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        with os.fdopen(os.open(src, flags | getattr(os, "O_BINARY", 0)), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise SubmissionError(f"{src} is not a regular file")
            data = f.read(self.left + 1)
        if len(data) > self.left:
            raise SubmissionError(f"{src} makes the submission larger than {MAX_BYTES >> 20} MB")
        self.left -= len(data)
        Path(dst).write_bytes(data)


def _check_modules(folder: Path) -> None:
    """Refuse an exercise module the judge could not read safely (see the docstring)."""
    for name in sorted(_MODULE_FILES):
        path = folder / name
        if not path.is_file():
            continue
        if (size := path.stat().st_size) > MAX_MODULE_BYTES:
            raise SubmissionError(_too_large(name, size))
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue  # the worker's import reports it: the learner's own mistake to see
        except (RecursionError, MemoryError):  # Python's parser gave up
            raise SubmissionError(_too_deep(name)) from None
        if _nesting(tree) > MAX_NESTING:
            raise SubmissionError(_too_deep(name))


def _too_deep(name: str) -> str:
    return (
        f"{name} nests expressions or statements more than {MAX_NESTING} levels deep, more "
        "than the grader reads: write it flatter"
    )


def _nesting(tree: ast.AST) -> int:
    """How many levels deep `tree` goes (iteratively: a deep tree must not exhaust the stack)."""
    deepest, todo = 0, [(tree, 1)]
    while todo:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _unzip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_FILES or sum(m.file_size for m in members) > MAX_BYTES:
                raise SubmissionError(f"{archive} is too large to be a submission")
            for m in members:
                name = PurePosixPath(m.filename)
                mode = m.external_attr >> 16
                if name.is_absolute() or ".." in name.parts or stat.S_ISLNK(mode):
                    raise SubmissionError(f"{archive} holds an unsafe path: {m.filename}")
                if stat.S_IFMT(mode) in SPECIAL:
                    raise SubmissionError(
                        f"{archive} holds {SPECIAL[stat.S_IFMT(mode)]}, not a file: {m.filename}"
                    )
                if len(name.parts) > MAX_DEPTH + 1:
                    raise SubmissionError(f"{archive} holds folders too deep: {m.filename}")
            zf.extractall(dest)
    except zipfile.BadZipFile as e:
        raise SubmissionError(f"{archive} is not a readable zip file: {e}") from None
    except OSError as e:  # a name too long for this file system, say
        raise SubmissionError(f"{archive} could not be unpacked: {e}") from None


def open_submission(path: str | Path) -> Submission:
    source = Path(path)
    if not source.exists():
        raise SubmissionError(f"{source} does not exist")
    tmp = tempfile.TemporaryDirectory(prefix="attention-submission-", dir=paths.scratch())
    try:
        root = Path(tmp.name)
        if source.is_file() and source.suffix in (".py", ".ipynb"):
            found = write_folder(source, root / "unfolded")
        elif source.is_file():
            if not zipfile.is_zipfile(source):
                raise SubmissionError(
                    f"{source} is neither a folder, a .zip, a .py nor a .ipynb file"
                )
            _unzip(source, root / "unpacked")
            found = module_folder(root / "unpacked")
        else:
            found = module_folder(source)
        if found is None:
            names = ", ".join(f"{m}.py" for m in MODULES)
            raise SubmissionError(f"no exercise modules ({names}) found in {source}")
        copy = root / "exercises"
        try:
            _survey(found)
            shutil.copytree(found, copy, ignore=_ignore, copy_function=_BoundedCopy())
        except OSError as e:  # unreadable, or changed since the survey
            raise SubmissionError(f"{source} could not be copied: {e}") from None
        _check_modules(copy)
        modules = [m for m in MODULES if (copy / f"{m}.py").is_file()]
        return Submission(str(source), copy, modules, tmp)
    except BaseException:
        tmp.cleanup()
        raise
