"""This process's resident memory (now, and its peak over a stretch) and a database's size."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType


def rss_mb(field: str = "VmRSS", process: int | str = "self") -> float:
    """The resident set size (or `VmHWM`, its peak) in MB of this process or another (a pid),
    from /proc/<pid>/status."""
    status = Path(f"/proc/{process}/status")
    for line in status.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in {status}")


class PeakRss:
    """The peak RSS over a `with` block: the kernel's high-water mark, reset at entry.
    Of this process, or of another one of ours (`process`, a pid)."""

    def __init__(self, process: int | str = "self") -> None:
        self.process = process
        self.start_mb = 0.0
        self.peak_mb = 0.0

    def __enter__(self) -> PeakRss:
        self.start_mb = rss_mb(process=self.process)
        # "5" resets VmHWM to the current RSS (Linux 4.0+); without it the peak is since start.
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.process}/clear_refs").write_text("5")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.peak_mb = rss_mb("VmHWM", self.process)


def database_bytes(path: Path) -> int:
    """The database file plus its WAL and shared-memory files, whatever exists of them."""
    files = (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
    return sum(p.stat().st_size for p in files if p.exists())
