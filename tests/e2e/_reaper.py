"""Run a command and outlive all of its descendants: ``python _reaper.py CMD [ARG...]``.

Chromium starts helpers that leave its process group (crash handlers in sessions of their
own). On Linux this process makes itself a child subreaper, so those helpers become its
children when their parents die; after the command exits it gives them a moment to exit,
kills what is left (again, until none is), and waits for every one of them. SIGTERM and
SIGINT are passed on to the command. The exit status is the command's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
GRACE = 3.0


def _children() -> list[int]:
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as f:
                pids += [int(pid) for pid in f.read().split()]
    return pids


def _reap() -> bool:
    """Reap the children that have exited; ``False`` once there are none left at all."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def main() -> int:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    child = subprocess.Popen(sys.argv[1:])

    def forward(signum: int, frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = child.wait()
    deadline = time.monotonic() + GRACE
    while _reap():
        if time.monotonic() > deadline:
            for pid in _children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    return status


if __name__ == "__main__":
    sys.exit(main())
