"""The test processes' machine lock (hostile/confinement.py): a test that opens /root for the
fallback's own user runs only once no other test process is inside a test."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from hostile.confinement import MachineLock

HOLD = """import sys, time
sys.path.insert(0, {tests!r})
from hostile.confinement import MachineLock
with MachineLock({folder!r}).shared():
    print("in", flush=True)
    time.sleep(1.5)
"""


def test_a_test_alone_waits_for_the_other_process_to_leave(tmp_path):
    lock = MachineLock(tmp_path)
    code = HOLD.format(tests=str(Path(__file__).parent), folder=str(tmp_path))
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline() == "in\n"  # the other process is inside a test
        with lock.shared():  # as the autouse fixture holds it
            start = time.monotonic()
            with lock.alone():
                waited = time.monotonic() - start
        assert waited > 1.0  # it went on only once the other had left (1.5 s after "in")
    finally:
        other.wait(timeout=30)
