"""The user a learner's worker runs as at the fallback when the judge is root, and what that
user leaves behind.

Without a sandbox, file permissions are the only wall between learner code and the grader's
files (the solutions above all). So where the sandbox cannot start and the judge runs as
root (Gradescope's containers), each learner's worker becomes a user of its own before any
learner code runs: a uid drawn from UID_FIRST.. (no account needs to exist for it), the gid
of the same number, no supplementary groups (confine.py). It can read what every user may
read, and its home: a fresh folder it owns, mode 0700, holding a copy of its submission.
What must stay secret is closed to other users (`secrecy.py`). A user of its own per worker
also means that

- two workers cannot read each other's files (in a batch, one student's worker cannot read
  another's submission), nor signal or trace each other;
- every process still running as that uid when the worker is killed is the worker's, however
  it hid (procs.py kills them), and RLIMIT_NPROC counts the worker's processes alone;
- what it leaves in the machine's shared temporary folders (/tmp, /var/tmp, /dev/shm...) and
  the System V IPC objects it made are found by owner and removed (`sweep`), and the judge
  measures what it writes there (`usage`, for the watchdog's disk limit).

Where the uid range is not mapped (a user namespace with a narrow uid_map), workers share
uid 65534 ("nobody") instead, and nothing is swept or killed by uid.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

UID_FIRST = 1 << 30  # 1073741824: no distribution allocates uids here
UID_COUNT = 1 << 20
SHARED_UID = 65534  # "nobody", where the range above is not mapped
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue")
MAX_DEPTH = 16
IPC_RMID = 0
SYSV_IPC = {"shm": ("shmid", "shmctl"), "msg": ("msqid", "msgctl"), "sem": ("semid", "semctl")}


def _mapped(uid: int) -> bool:
    """Whether `uid` exists in this process's user namespace (its uid_map covers it)."""
    try:
        lines = Path("/proc/self/uid_map").read_text().splitlines()
    except OSError:
        return True  # no /proc: assume the initial namespace
    for line in lines:
        inside, _, count = (int(field) for field in line.split())
        if inside <= uid < inside + count:
            return True
    return False


def pick() -> int:
    """A uid for one worker: its own where the range is mapped (one no process runs as), else
    the shared one."""
    if not (_mapped(UID_FIRST) and _mapped(UID_FIRST + UID_COUNT - 1)):
        return SHARED_UID
    from grader.worker.procs import runs_as

    for _ in range(10):
        uid = UID_FIRST + secrets.randbelow(UID_COUNT)
        if not runs_as(uid):  # another judge's worker: one in a million
            return uid
    return uid


def own(uid: int | None) -> bool:
    """Whether `uid` belongs to one worker alone (so that its processes and files can be found
    and removed by owner)."""
    return uid is not None and UID_FIRST <= uid < UID_FIRST + UID_COUNT


def prepare_home(home: Path, uid: int, submission: Path) -> Path:
    """Give `home` (a fresh, private folder) to `uid`, with a copy of `submission` it can read
    but not change; returns the copy's path."""
    copy = home / "submission"
    shutil.copytree(submission, copy, symlinks=False)
    for root, _dirs, files in os.walk(copy):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    os.chown(home, uid, uid)
    os.chmod(home, 0o700)
    return copy


def shared_folders() -> list[Path]:
    """The machine's folders every user may create files in."""
    found = []
    for name in {tempfile.gettempdir(), *SHARED_FOLDERS}:
        path = Path(name)
        with contextlib.suppress(OSError):
            info = path.lstat()
            if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH:
                found.append(path.resolve())
    return sorted(set(found))


def _entries(folder: Path, uid: int, depth: int = 0):
    """(path, lstat) of each entry `uid` owns under `folder`, not looking inside them, and
    looking inside the folders others own that `uid` may write to (such as /tmp/.X11-unix)."""
    if depth > MAX_DEPTH:
        return
    with contextlib.suppress(OSError), os.scandir(folder) as scan:
        for entry in scan:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid == uid:
                yield Path(entry.path), info
            elif stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH:
                yield from _entries(Path(entry.path), uid, depth + 1)


def usage(uid: int, folders: list[Path], stop_at: tuple[int, int]) -> tuple[int, int]:
    """(bytes, files) that `uid` holds in `folders`; counting stops past `stop_at` (bytes,
    files), where the watchdog acts anyway."""
    total = count = 0
    for folder in folders:
        for _path, info in _walk_owned(folder, uid):
            total += info.st_blocks * 512
            count += 1
            if total > stop_at[0] or count > stop_at[1]:
                return total, count
    return total, count


def folders_of(home: Path) -> list[Path]:
    """Where a worker whose home is `home` can leave files: the shared folders, and the folder
    holding its home (which may not be one of them)."""
    folders = shared_folders()
    if not any(home.is_relative_to(folder) for folder in folders):
        folders.append(home.parent)
    return folders


def _walk_owned(folder: Path, uid: int):
    """Every file and folder under what `uid` owns in `folder`, with its lstat."""
    for path, info in _entries(folder, uid):
        yield path, info
        if stat.S_ISDIR(info.st_mode):
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    with contextlib.suppress(OSError):
                        yield Path(root, name), os.lstat(os.path.join(root, name))


def sweep(uid: int, keep: Path | None = None) -> None:
    """Remove what `uid` left in the shared folders (but `keep`, its home, which its owner
    removes) and its System V IPC objects."""
    for folder in shared_folders():
        for path, info in list(_entries(folder, uid)):
            if keep is not None and path == keep:
                continue
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(path)
                else:
                    path.unlink()
    remove_ipc(uid)


def remove_ipc(uid: int) -> None:
    """Remove the System V shared memory segments, message queues and semaphore sets that
    `uid` owns or made: unlike files, they outlive their processes, memory included."""
    libc = None
    for kind, (key, call) in SYSV_IPC.items():
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        header = lines[0].split() if lines else []
        if not {key, "uid", "cuid"} <= set(header):
            continue
        for line in lines[1:]:
            row = dict(zip(header, line.split(), strict=False))
            if uid in (int(row["uid"]), int(row["cuid"])):
                libc = libc or ctypes.CDLL(None, use_errno=True)
                ipc_id = int(row[key])
                if kind == "sem":
                    getattr(libc, call)(ipc_id, 0, IPC_RMID)
                else:
                    getattr(libc, call)(ipc_id, IPC_RMID, None)
