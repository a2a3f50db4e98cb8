"""One writer per journal: an exclusive lock held from open to close.

Two processes replaying and appending to one journal would each rebuild an OMS from
it and each send orders from it: two engines (or two account gateways) on one
account, fighting over its rate limits and each blind to the other's orders. So a
journal file is locked when it is opened: ``fcntl.flock`` on ``<journal>.lock``, which
holds the holder's pid for the error message. The lock belongs to the open file, so it
dies with the process (a ``kill -9`` leaves no stale lock) and a second open in the
*same* process is refused too. The lock file itself is left in place (removing it
would race with the next opener); its content alone means nothing.

On a platform without ``fcntl`` (Windows) the lock is not taken.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from autotrader_core.errors import ConfigurationError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["JournalLock", "lock_path_for"]


def lock_path_for(path: Path) -> Path:
    """The lock file of the journal at ``path``: ``<path>.lock``."""
    return path.with_name(path.name + ".lock")


class JournalLock:
    """An exclusive, process-lifetime lock on one journal file.

    Args:
        path: The journal file (the lock file is ``<path>.lock`` beside it).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = lock_path_for(Path(path))
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True between :meth:`acquire` and :meth:`release`."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (non-blocking) and write our pid into the lock file.

        Raises:
            ConfigurationError: another open journal holds it (the message names its pid).
        """
        if self._fd is not None or fcntl is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_holder(fd)
            os.close(fd)
            raise ConfigurationError(
                f"journal {self.path.with_suffix('')} is in use by another process (pid {holder}); "
                "one engine or gateway per journal: stop that one, or use another data_dir "
                f"(lock file {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (closing the file releases it); safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __repr__(self) -> str:
        return f"<JournalLock {str(self.path)!r} held={self.held}>"


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"
