"""Find a submission's modules in a folder, a .zip or one file, and copy them somewhere private.

The worker imports from the copy, never from the original, so learner code cannot change the
files an instructor keeps, and a zip is unpacked with the usual guards (no absolute paths, no
`..`, no links, bounded size). A single .py or .ipynb holding all the exercises is unfolded
into the four modules (see grader/integrations/single_file.py).
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.paths import MODULES

MAX_BYTES = 50 << 20  # unpacked size of a submission
MAX_FILES = 2000
IGNORED = ("__pycache__", "*.pyc", ".git", ".ipynb_checkpoints", "__MACOSX")


class SubmissionError(Exception):
    """The submission cannot be found or read (the CLI exits with status 2)."""


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
            zf.extractall(dest)
    except zipfile.BadZipFile as e:
        raise SubmissionError(f"{archive} is not a readable zip file: {e}") from None


def open_submission(path: str | Path) -> Submission:
    source = Path(path)
    if not source.exists():
        raise SubmissionError(f"{source} does not exist")
    tmp = tempfile.TemporaryDirectory(prefix="attention-submission-")
    try:
        root = Path(tmp.name)
        if source.is_file() and source.suffix in (".py", ".ipynb"):
            from grader.integrations.single_file import write_folder  # it imports this module

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
        shutil.copytree(found, copy, ignore=_ignore)
        if sum(f.stat().st_size for f in copy.rglob("*") if f.is_file()) > MAX_BYTES:
            raise SubmissionError(f"{source} is too large to be a submission")
        modules = [m for m in MODULES if (copy / f"{m}.py").is_file()]
        return Submission(str(source), copy, modules, tmp)
    except BaseException:
        tmp.cleanup()
        raise
