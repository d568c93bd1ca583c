"""Confine this process, then become the worker: `python -I -S confine.py SPEC COMMAND...`.

The first program of every worker, and trusted: it runs before any learner code, inside the
sandbox when there is one. SPEC is a JSON object, each key optional:

    {"cgroup": "/sys/fs/cgroup/.../cgroup.procs", "user": 65534, "userns": true,
     "strict": true, "limits": {"RLIMIT_DATA": 4294967296, ...}}

- "cgroup": join that cgroup (the judge made it, with the worker's memory limit; see
  `cgroup.py`) by writing to its cgroup.procs; every process the worker starts stays inside.
- Always: raise the OOM score to its maximum, so that when memory runs out (the machine's or
  a container's) the kernel kills a worker rather than the judge.
- "user" (only acted on when running as root): drop to that uid and gid with no groups, then
  enter a fresh user namespace that maps the uid to itself, so that the kernel counts this
  worker's processes on their own (RLIMIT_NPROC is per uid and per user namespace, and not
  enforced at all for root).
- "userns" (without "user"): enter such a namespace as the current user.
- In a user namespace of its own, the worker may create no further one: one would let it
  mount a tmpfs of its own, memory that no limit of the worker's counts. "strict" (the
  sandbox's): failing to forbid them is an error; otherwise (the fallback) the worker runs on
  as it would without a namespace of its own.
- "limits": setrlimit each, soft and hard (RLIMIT_CPU gets a hard limit 5 s above the soft
  one: SIGXCPU first, then SIGKILL). Limits only ever go down: a child cannot raise them.

Then it execs COMMAND, which keeps this process id. A step that must happen and fails (the
cgroup, the change of user) ends this process with status 126 and a message: the worker
never runs less confined than asked. Standard library only, and written to run without
`site` (`-S`), so nothing outside the standard library is imported here.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

try:
    import resource  # before any change of user, which may leave its folder out of reach
except ImportError:  # Windows, where no limits are set
    resource = None

CLONE_NEWUSER = 0x10000000
PR_SET_DUMPABLE = 4
CPU_GRACE = 5  # seconds between SIGXCPU (soft limit) and SIGKILL (hard limit)
OOM_SCORE_MAX = "1000"
MAX_USER_NAMESPACES = "/proc/sys/user/max_user_namespaces"
FAILED = 126


class ConfineError(Exception):
    """A confinement step that was asked for could not be taken."""


def join_cgroup(procs: str) -> None:
    """Move this process into the cgroup whose cgroup.procs file is `procs`."""
    try:
        with open(procs, "w") as f:
            f.write("0")  # 0: the writing process
    except OSError as e:
        raise ConfineError(f"cannot join the worker's cgroup: {e}") from None


def raise_oom_score() -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(OOM_SCORE_MAX)
    except OSError:
        pass  # no /proc (macOS): nothing to raise


def drop_root(uid: int, strict: bool = False) -> None:
    """Become `uid` (and gid `uid`) for good, in a user namespace of its own."""
    try:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    except OSError as e:
        raise ConfineError(f"cannot become uid {uid}: {e}") from None
    if os.getuid() != uid or os.getgid() != uid or os.getgroups():
        raise ConfineError(f"cannot become uid {uid}")
    libc = ctypes.CDLL(None, use_errno=True)
    # Changing uid made the process non-dumpable, which leaves /proc/self owned by root and
    # its uid_map unwritable; the process has nothing left worth hiding from itself.
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    own_user_namespace(libc, strict)


def own_user_namespace(libc=None, strict: bool = False) -> bool:
    """Enter a user namespace mapping this uid and gid to themselves, and forbid it to hold
    further ones (an error if `strict` and that fails); False where user namespaces cannot
    be made (which also means the worker cannot make one)."""
    libc = libc or ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER) != 0:
        return False  # no user namespaces: the process limit is then shared by all workers
    for name, text in (
        ("uid_map", f"{uid} {uid} 1"),
        ("setgroups", "deny"),
        ("gid_map", f"{gid} {gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    # This namespace's own limit; its capabilities here (lost at exec) allow setting it.
    try:
        with open(MAX_USER_NAMESPACES, "w") as f:
            f.write("0")
    except OSError as e:
        if strict:
            raise ConfineError(f"cannot forbid nested user namespaces: {e}") from None
    return True


def set_limits(limits: dict[str, int]) -> None:
    """Lower each limit to its value; one this system lacks or refuses (macOS) is skipped."""
    for name, value in limits.items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        _, hard = resource.getrlimit(which)
        soft = value if hard == resource.RLIM_INFINITY else min(value, hard)
        new_hard = soft + CPU_GRACE if name == "RLIMIT_CPU" else soft
        if hard != resource.RLIM_INFINITY:
            new_hard = min(new_hard, hard)
        try:
            resource.setrlimit(which, (soft, new_hard))
        except (ValueError, OSError):
            continue


def confine(spec: dict) -> None:
    if spec.get("cgroup"):
        join_cgroup(spec["cgroup"])
    if sys.platform == "win32":
        return
    raise_oom_score()
    user, strict = spec.get("user"), bool(spec.get("strict"))
    if user not in (None, "") and os.geteuid() == 0:
        drop_root(int(user), strict)
    elif spec.get("userns"):
        own_user_namespace(strict=strict)
    if spec.get("limits") and resource is not None:
        set_limits(spec["limits"])


def main(argv: list[str]) -> None:
    spec = json.loads(argv[0])
    command = argv[1:]
    try:
        confine(spec)
    except ConfineError as e:
        print(f"confine.py: {e}", file=sys.stderr, flush=True)
        os._exit(FAILED)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
