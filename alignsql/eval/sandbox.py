"""Model-written SQL runs in a child process that can be killed.

The in-process guards (``executor.run_here``: size limits, progress handler, watchdog
``interrupt()``) stop almost everything, but one SQLite function call is uninterruptible:
``instr()`` or ``replace()`` over two long strings is quadratic inside a single opcode (an
8 MB x 2 MB ``instr`` ran 395 s against a 2 s timeout). So each thread of each process gets
one long-lived helper process (``python -m alignsql.eval.sandbox``) that keeps the read-only
connections; the caller waits ``timeout + GRACE_S`` for the answer and otherwise kills the
helper (SIGKILL), reports ``timeout`` and starts a fresh one on the next query. The helper
also runs under an address-space limit, so a memory bomb fails there, not in the caller.
"""
from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from alignsql.errors import AlignSQLError

GRACE_S = 0.25  # the helper's own timeout fires first; this is for a stuck opcode
MEMORY_LIMIT = 1536 * 1024 * 1024  # address space of the helper (bytes)
KILLED, DIED = "killed", "died"
_ERRORS = {"AlignSQLError": AlignSQLError, "FileNotFoundError": FileNotFoundError}


class Sandbox:
    """One helper process, used by one thread."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.pid = os.getpid()  # the process that owns the helper

    def _start(self) -> None:
        child_r, parent_w = os.pipe()
        parent_r, child_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alignsql.eval.sandbox", str(child_r), str(child_w),
             str(MEMORY_LIMIT)], pass_fds=(child_r, child_w), stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": _pythonpath()})
        os.close(child_r)
        os.close(child_w)
        self.conn = _Duplex(parent_r, parent_w)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.conn.close()
            self.proc = self.conn = None

    def run(self, request: tuple, timeout_s: float):
        """The helper's answer, KILLED when it had to be killed at the deadline, or DIED when
        it ended without answering (its memory limit hit outside SQLite)."""
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.kill()
            self._start()
        try:
            self.conn.send(request)
            if not self.conn.poll(timeout_s + GRACE_S):
                self.kill()
                return KILLED
            kind, payload = self.conn.recv()
        except (EOFError, OSError, pickle.UnpicklingError):
            self.kill()
            return DIED
        if kind == "raise":
            name, message = payload
            raise _ERRORS.get(name, RuntimeError)(message)
        return payload


class _Duplex:
    """A message channel over two pipe file descriptors (length-prefixed pickles)."""

    def __init__(self, read_fd: int, write_fd: int):
        self._r = Connection(read_fd, writable=False)
        self._w = Connection(write_fd, readable=False)

    def send(self, obj) -> None:
        self._w.send(obj)

    def poll(self, timeout: float) -> bool:
        return self._r.poll(timeout)

    def recv(self):
        return self._r.recv()

    def close(self) -> None:
        self._r.close()
        self._w.close()


def _pythonpath() -> str:
    here = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)


_LOCAL = threading.local()
_ALL: list[Sandbox] = []


def current() -> Sandbox:
    """This thread's sandbox; a forked child gets its own (never its parent's helper)."""
    box = getattr(_LOCAL, "box", None)
    if box is None or getattr(_LOCAL, "pid", None) != os.getpid():
        box = _LOCAL.box = Sandbox()
        _LOCAL.pid = os.getpid()
        _ALL.append(box)
    return box


@atexit.register
def _shutdown() -> None:
    for box in _ALL:
        if box.proc is not None and box.pid == os.getpid():
            box.kill()


def _serve(read_fd: int, write_fd: int, memory_limit: int) -> None:
    """The helper's loop: one request in, one answer out, until the caller goes away."""
    import resource

    from alignsql.eval.executor import TOO_LARGE, ExecResult, run_here
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    chan = _Duplex(read_fd, write_fd)
    while True:
        try:
            request = chan.recv()
        except (EOFError, OSError):
            return
        try:
            answer = ("ok", run_here(*request))
        except (AlignSQLError, FileNotFoundError) as exc:
            answer = ("raise", (type(exc).__name__, str(exc)))
        except MemoryError:
            answer = ("ok", ExecResult(error=TOO_LARGE, message="out of memory"))
        try:
            chan.send(answer)
        except MemoryError:
            chan.send(("ok", ExecResult(error=TOO_LARGE, message="out of memory")))


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
