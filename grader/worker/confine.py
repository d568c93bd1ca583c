"""Confine this process, then become the worker: `python -I -S confine.py SPEC COMMAND...`.

The first program of every worker, and trusted: it runs before any learner code, inside the
sandbox when there is one. SPEC is a JSON object:

    {"user": 65534, "limits": {"RLIMIT_DATA": 4294967296, ...}}

- "user" (only acted on when running as root): drop to that uid and gid with no groups, then
  enter a fresh user namespace that maps the uid to itself, so that the kernel counts this
  worker's processes on their own (RLIMIT_NPROC is per uid and per user namespace, and not
  enforced at all for root).
- "limits": setrlimit each, soft and hard (RLIMIT_CPU gets a hard limit 5 s above the soft
  one: SIGXCPU first, then SIGKILL). Limits only ever go down: a child cannot raise them.

Then it execs COMMAND, which keeps this process id. Standard library only, and written to
run without `site` (`-S`), so nothing outside the standard library is imported here.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

CLONE_NEWUSER = 0x10000000
PR_SET_DUMPABLE = 4
CPU_GRACE = 5  # seconds between SIGXCPU (soft limit) and SIGKILL (hard limit)


def drop_root(uid: int) -> None:
    """Become `uid` (and gid `uid`) for good, in a user namespace of its own."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    libc = ctypes.CDLL(None, use_errno=True)
    # Changing uid made the process non-dumpable, which leaves /proc/self owned by root and
    # its uid_map unwritable; the process has nothing left worth hiding from itself.
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    if libc.unshare(CLONE_NEWUSER) != 0:
        return  # no user namespaces: the process limit is then shared by all workers
    for name, text in (
        ("uid_map", f"{uid} {uid} 1"),
        ("setgroups", "deny"),
        ("gid_map", f"{uid} {uid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def set_limits(limits: dict[str, int]) -> None:
    """Lower each limit to its value; one this system lacks or refuses (macOS) is skipped."""
    import resource  # not on Windows, where no limits are set

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


def main(argv: list[str]) -> None:
    spec = json.loads(argv[0])
    command = argv[1:]
    user = spec.get("user")
    if user is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
        drop_root(user)
    if spec.get("limits") and sys.platform != "win32":
        set_limits(spec["limits"])
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
