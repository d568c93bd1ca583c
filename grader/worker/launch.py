"""Judge side of the worker: start it, send probes, enforce deadlines, kill it.

Every call has a wall-clock deadline enforced here, outside the worker. A worker that misses
it, dies, or sends anything malformed is killed with every process it started (see
`procs.py`), and the call is answered with a status saying so; the next call starts a fresh
worker. Replies are read by a background thread, so neither a silent worker nor a flood of
output can block the judge. A reply is untrusted data: its frame is bounded and its header
checked against `REPLY` (grader/protocol.py) here, before any judge reads it, and one that
does not fit is answered as "protocol" (the check fails; the judge goes on). The command
prefix `wrap` (from `sandbox.py`) puts the worker in a sandbox and sets its resource limits.

Three placeholders in `wrap` (see `spawn.py`) are filled in per worker: SUBMISSION (the submission folder a
sandbox binds), USER (the uid it becomes at the fallback as root: one of its own, see
`users.py`, with its home and a copy of its submission given to it; left empty for a trusted
worker, the reference's) and CGROUP (the cgroup it joins, made here with its memory limit,
see `cgroup.py`). Without a cgroup, and for a worker with a user of its own, a watchdog
(`watchdog.py`) adds what the kernel does not bound: the memory of all its processes, the
files it leaves. Killing a worker also kills its cgroup's and its user's processes, and
removes what its user left in the shared temporary folders.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from grader import paths
from grader.errors import WireError
from grader.paths import MODULES
from grader.protocol import Reply
from grader.worker import cgroup, procs, users, wire
from grader.worker.sandbox import Limits
from grader.worker.spawn import (
    CGROUP,
    KIT_PARENT,
    SANDBOXED_SUBMISSION,
    SUBMISSION,
    USER,
    worker_env,
)
from grader.worker.watchdog import Watchdog

if TYPE_CHECKING:
    import torch

_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[2]); from grader.worker.harness import main; main()"
)
STDERR_KEEP = 64 << 10  # bytes of learner output kept per worker


class _Output:
    """Drains a stream into a bounded buffer; remembers how much has been read in total."""

    def __init__(self, stream):
        self._buf = bytearray()
        self._total = 0
        self._lock = threading.Lock()
        self._fd = stream.fileno()
        threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _drain(self, stream):
        while chunk := stream.read1(65536):
            with self._lock:
                self._buf += chunk
                self._total += len(chunk)
                del self._buf[:-STDERR_KEEP]

    def mark(self) -> int:
        with self._lock:
            return self._total

    def settle(self, limit: float = 0.2) -> None:
        """Wait, at most `limit` seconds, until what the worker wrote before its reply has been
        read: the reply arrives on another pipe, and may overtake the last lines."""
        deadline = time.monotonic() + limit
        while _unread(self._fd) and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(0.001)  # let the reader append what it has just read

    def since(self, mark: int, limit: int = 2000) -> str:
        with self._lock:
            new = self._total - mark
            data = bytes(self._buf[-new:]) if new > 0 else b""
        text = data.decode("utf-8", "replace")
        if len(text) > limit:
            text = f"[... {len(text) - limit} characters cut ...]\n" + text[-limit:]
        return text


class Worker:
    """One worker process for one submission folder. `limits` (a `sandbox.Limits`; its
    defaults when None) bound its cgroup and its watchdog; a `trusted` worker (the reference
    solutions') keeps the grader's user at the fallback."""

    def __init__(
        self,
        submission: Path,
        *,
        startup_timeout: float = 120.0,
        threads: int = 1,
        wrap: list[str] | None = None,
        limits=None,
        trusted: bool = False,
    ):
        self.submission = Path(submission)
        self.startup_timeout = startup_timeout
        self.threads = threads
        self.wrap = wrap or []  # a command prefix (a sandbox) to run the worker under
        self.limits = limits
        self.trusted = trusted
        self.proc: subprocess.Popen | None = None
        self._frames: queue.Queue = queue.Queue()
        self._seq = 0
        self._home = None
        self.token = secrets.token_hex(16)  # in the worker's environment: see procs.py
        self.startup_error: Reply | None = None
        self.uid: int | None = None  # the user of its own, at the fallback as root
        self.cgroup: Path | None = None
        self._watchdog: Watchdog | None = None
        self._stopped_for = ""  # why the watchdog stopped it
        self._kill_lock = threading.Lock()
        # The folder, on the judge's side, that the worker imports the submission from: the
        # submission itself (a sandbox shows it read-only), or its user's copy of it.
        self.imports_from = self.submission

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the worker; False (and `startup_error` set) when it does not come up."""
        return self.launch() and self.ready()

    def launch(self) -> bool:
        """Start the worker's process without waiting for it to come up (`ready` waits); False
        (and `startup_error` set) when it cannot be confined. Call it from a thread that
        outlives the worker: bwrap's --die-with-parent ends a sandbox with that thread."""
        self._home = tempfile.TemporaryDirectory(prefix="attention-worker-", dir=paths.scratch())
        folder, wrap = str(self.submission), list(self.wrap)
        if SUBMISSION in wrap:
            _readable_by_all(self.submission)  # the sandbox's user is not the owner
            folder = SANDBOXED_SUBMISSION
            wrap = [str(self.submission) if arg == SUBMISSION else arg for arg in wrap]
        try:
            folder, wrap = self._fill(folder, wrap)
        except OSError as e:
            message = f"the worker could not be confined: {e}"
            self.startup_error = Reply("died", error={"type": "died", "message": message})
            return False
        command = [*wrap, sys.executable, "-I", "-B", "-c", _BOOT, folder, str(KIT_PARENT)]
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._home.name,
            env={**worker_env(self._home.name, self.threads), procs.TOKEN_VARIABLE: self.token},
            start_new_session=True,
        )
        self._frames = queue.Queue()
        self._output = _Output(self.proc.stderr)
        threading.Thread(
            target=self._read_frames, args=(self.proc.stdout, self._frames), daemon=True
        ).start()
        self._watch()
        return True

    def ready(self, timeout: float | None = None) -> bool:
        """Wait, at most `timeout` seconds (default: the startup timeout), for the launched
        worker's greeting; False (and `startup_error` set) when it does not come up."""
        timeout = self.startup_timeout if timeout is None else timeout
        reply = self._wait(timeout, expect_id=None, mark=0)
        if reply.status != "ok":
            self.startup_error = reply
            return False
        return True

    def _limits(self) -> Limits:
        return self.limits or Limits()

    def _fill(self, folder: str, wrap: list[str]) -> tuple[str, list[str]]:
        """Fill USER and CGROUP in `wrap` for this worker: give it a user of its own (its
        home, a copy of its submission) and a cgroup, where `wrap` asks for them."""
        if any(USER in arg for arg in wrap):
            user = ""
            if not self.trusted:
                self.uid = users.pick()
                home = Path(self._home.name)
                self.imports_from = users.prepare_home(home, self.uid, self.submission)
                folder, user = str(self.imports_from), str(self.uid)
            wrap = [arg.replace(USER, user) for arg in wrap]
        if any(CGROUP in arg for arg in wrap):
            self.cgroup = cgroup.create(self._limits().memory)
            wrap = [arg.replace(CGROUP, cgroup.procs_file(self.cgroup)) for arg in wrap]
        return folder, wrap

    def _watch(self) -> None:
        """Start the watchdog where the kernel leaves something unbounded (see watchdog.py)."""
        own = users.own(self.uid)
        if self.trusted or (self.cgroup is not None and not own):
            return
        limits = self._limits()
        self._watchdog = Watchdog(
            self.proc.pid,
            self.token,
            self._stop,
            memory=None if self.cgroup is not None else limits.memory,
            disk=(limits.disk, limits.disk_files) if own else None,
            uid=self.uid if own else None,
            home=Path(self._home.name),
        )

    def _stop(self, reason: str) -> None:
        """Called by the watchdog: kill the worker; the call waiting on it fails with `reason`."""
        self._stopped_for = reason
        self.kill()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Kill the worker and everything it started, and remove what its user of its own left
        in the shared folders; return once the worker is reaped."""
        if self.proc is None:
            return
        with self._kill_lock:
            if self._watchdog is not None:
                self._watchdog.close()
            own = users.own(self.uid)
            procs.kill_worker(self.proc, self.token, self.uid if own else None, self.cgroup)
            if own:
                users.sweep(self.uid, keep=Path(self._home.name) if self._home else None)
        # Closing a stream waits for the thread reading (or writing) it, which waits for every
        # process holding the pipe, and one may have escaped the kill: close them aside.
        threading.Thread(target=_close_streams, args=(self.proc,), daemon=True).start()

    def close(self) -> None:
        if self.alive:
            try:
                self.proc.stdin.write(wire.encode({"op": "exit"}))
                self.proc.stdin.flush()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                pass
        self.kill()
        if self.cgroup is not None:
            cgroup.remove(self.cgroup)
            self.cgroup = None
        if self._home is not None:
            self._home.cleanup()
            self._home = None

    # -- calls ----------------------------------------------------------------------------
    def call(self, probe: dict, inputs: dict[str, torch.Tensor], timeout: float) -> Reply:
        """Run one probe; always returns, within about `timeout` seconds."""
        return self._request({"op": "run", "probe": probe}, inputs, timeout)

    def import_module(self, module: str, timeout: float) -> Reply:
        """Import one of the submission's modules (status "missing" when it has none)."""
        return self._request({"op": "import", "module": module}, {}, timeout)

    def _request(self, header: dict, inputs: dict[str, torch.Tensor], timeout: float) -> Reply:
        if not self.alive:
            return Reply(
                "died", error={"type": "died", "message": "the worker is not running", "frames": []}
            )
        self._seq += 1
        mark = self._output.mark()
        start = time.monotonic()
        frame = wire.encode({**header, "id": self._seq, "timeout": timeout}, inputs)
        writer = threading.Thread(target=self._send, args=(frame,), daemon=True)
        writer.start()
        writer.join(timeout)
        remaining = timeout - (time.monotonic() - start)
        reply = self._wait(max(remaining, 0.0), expect_id=self._seq, mark=mark)
        reply.seconds = time.monotonic() - start
        return reply

    def _send(self, frame: bytes) -> None:
        try:
            self.proc.stdin.write(frame)
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass  # the worker is gone; the reader notices

    @staticmethod
    def _read_frames(stream, frames: queue.Queue) -> None:
        while True:
            try:
                frames.put(wire.read_frame(stream))
            except EOFError:
                frames.put(EOFError())
                return
            except (WireError, OSError, ValueError) as e:
                frames.put(WireError(str(e)))
                return
            except Exception as e:  # whatever else a frame provokes, this thread must answer
                frames.put(WireError(f"unreadable frame ({type(e).__name__})"))
                return

    def _wait(self, timeout: float, expect_id: int | None, mark: int) -> Reply:
        try:
            item = self._frames.get(timeout=timeout)
        except queue.Empty:
            self._output.settle()  # the stack the worker wrote just before the deadline
            self.kill()
            return self._failure("timeout", f"no answer within {timeout:.0f} s", mark)
        if isinstance(item, EOFError):
            exited = self._exits_within(5)
            self.kill()  # also what it left behind, while its process group is still its own
            code = self.proc.returncode if exited else None
            return self._failure("died", self._stopped_for or self._exit_reason(code), mark)
        if isinstance(item, WireError):
            self.kill()
            return self._failure("protocol", f"the worker sent a malformed reply: {item}", mark)
        header, tensors = item
        if expect_id is None:
            ok = header.get("ready") is True
            return Reply("ok") if ok else self._failure("protocol", "bad greeting", mark)
        problem = wire.reply_problem(header)
        if problem is None and header["id"] != expect_id:
            problem = "it answers another request"
        if problem is not None:
            self.kill()
            return self._failure("protocol", f"the worker sent a malformed reply: {problem}", mark)
        status = header["status"]
        self._output.settle()
        return Reply(
            status,
            tensors if status == "ok" else {},
            header.get("info", {}),
            header.get("error"),
            self._output.since(mark),
        )

    def _exit_reason(self, code: int | None) -> str:
        if self.cgroup is not None and cgroup.out_of_memory(self.cgroup):
            memory = self._limits().memory
            return (
                f"the worker ran out of memory: its processes together may hold "
                f"{memory / (1 << 30):g} GiB, shared memory and files in /tmp included"
            )
        return _describe_exit(code)

    def _exits_within(self, timeout: float) -> bool:
        """Whether the worker exits within `timeout`; it is not reaped (see procs.py)."""
        if not hasattr(os, "waitid"):  # Windows
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
            return self.proc.returncode is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                if os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                    return True
            except ChildProcessError:  # already reaped
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    def _failure(self, status: str, message: str, mark: int) -> Reply:
        time.sleep(0.05)  # let the output reader catch the last lines the worker wrote
        printed, where = stuck_at(self._output.since(mark))
        if status == "timeout" and where:
            message += f": it was still running {where}"
        return Reply(
            status,
            error={"type": status, "message": message, "frames": []},
            printed=printed,
        )


_DUMP = re.compile(r"^Timeout \(\d+:\d\d:\d\d(\.\d+)?\)!$", re.M)
_FRAME = re.compile(r'^\s*File "([^"\n]+)", line (\d+) in (\S+)$', re.M)


def stuck_at(printed: str) -> tuple[str, str]:
    """(what the learner's code printed, where it was stuck): the stack the harness dumps just
    before a call's deadline is cut from the output, and its most recent frame in one of the
    submission's modules is named ("simple_attention.py, line 12, in softmax_naive")."""
    dump = _DUMP.search(printed)
    if dump is None:
        return printed, ""
    where = ""
    for path, line, function in _FRAME.findall(printed[dump.end() :]):
        name = os.path.basename(path)
        if name[:-3] in MODULES and name.endswith(".py") and "/grader/" not in path:
            where = f"at {name}, line {line}, in {function}"
            break  # most recent call first
    return printed[: dump.start()], where


def _unread(fd: int) -> bool:
    """Whether the pipe `fd` holds bytes not read yet (False where that cannot be told)."""
    try:
        import fcntl
        import termios

        pending = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except (ImportError, OSError, ValueError):  # Windows, or the pipe is closed
        return False
    return int.from_bytes(pending, sys.byteorder) > 0


def _close_streams(proc: subprocess.Popen) -> None:
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.close()


def _readable_by_all(folder: Path) -> None:
    """Open up a private copy for reading (the folder above it stays private)."""
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the worker stopped answering"
    if code < 0:
        name = _signal_name(-code)
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"the worker was killed by {name}{hint}"
    if 128 < code < 128 + signal.NSIG:  # how bubblewrap reports a signal that killed its child
        name = _signal_name(code - 128)
        return f"the worker exited with code {code} (killed by {name}? out of memory?)"
    return f"the worker exited with code {code} (os._exit or a crash in native code?)"
