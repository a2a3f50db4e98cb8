"""A fork server for engine processes: ``python -m crashkit.zygote``.

Importing the engine takes a second or more (several on a loaded machine); a crash
scenario starts two or three engines. The zygote imports everything once, then forks
one engine per request, so a restart costs a fork, not an import. Each fork is a real,
separate process: it is SIGKILLed by pid like any other.

Protocol (one JSON object per line): the zygote prints ``{"ready": true}`` once imported.
A request on its stdin ``{"argv": [...], "env": {...}, "stdin": path, "stdout": path,
"stderr": path}`` (the paths are FIFOs the harness made) is answered ``{"pid": N}``; when
an engine ends, the zygote prints ``{"exit": N, "code": C}`` (``C`` = ``-signal`` when it
was killed, as :mod:`subprocess` reports it). The zygote is single-threaded (forking a
threaded process is unsafe) and exits when its stdin closes.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import traceback
from typing import Any

import anyio._backends._asyncio  # noqa: F401 - anyio loads its backend lazily: load it once, here

from crashkit import child


def _say(message: dict[str, Any]) -> None:
    os.write(1, json.dumps(message).encode() + b"\n")


def _run_engine(request: dict[str, Any]) -> None:
    """In the fork: become the engine process described by ``request``, then exit."""
    code = 1
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        # Open order matters: the harness's readers open stdout/stderr, then it opens our stdin.
        out = os.open(request["stdout"], os.O_WRONLY)
        err = os.open(request["stderr"], os.O_WRONLY)
        into = os.open(request["stdin"], os.O_RDONLY)
        for fd, target in ((into, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
            os.close(fd)
        # Fresh text streams: the zygote's may hold buffered bytes of its own protocol.
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        code = child.cli(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # exiting anyway
                stream.flush()
        os._exit(code)


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        _say({"exit": pid, "code": code})


def serve() -> None:
    """Fork an engine per request line until stdin closes."""
    _say({"ready": True})
    pending = b""
    while True:
        readable, _, _ = select.select([0], [], [], 0.005)
        _reap()
        if not readable:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            break
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                _run_engine(request)
            _say({"pid": pid})
    _reap()  # stdin closed: the harness is gone


if __name__ == "__main__":
    serve()
