"""How far `parley store copy` is, on stderr: a bar on a terminal, plain lines in a log."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final, TextIO

BAR_WIDTH: Final = 24
# A bar redrawn more often than this only costs time; plain lines come far less often.
REDRAW_SECONDS: Final = 0.1
PLAIN_EVERY_SECONDS: Final = 10.0


@dataclass
class _Tally:
    total: int
    done: int
    added: int = 0
    present: int = 0
    started: float = field(default_factory=time.monotonic)

    def rate(self) -> float:
        return self.added / max(time.monotonic() - self.started, 1e-6)


class _Tallies:
    def __init__(self) -> None:
        self._tallies: dict[str, _Tally] = {}

    def start(self, table: str, total: int, present: int) -> _Tally:
        tally = _Tally(total, present, present=present)
        self._tallies[table] = tally
        return tally

    def add(self, table: str, added: int, present: int) -> _Tally:
        tally = self._tallies[table]
        tally.added += added
        tally.present += present
        tally.done += added + present
        return tally

    def __getitem__(self, table: str) -> _Tally:
        return self._tallies[table]


def summary(table: str, tally: _Tally) -> str:
    seconds = time.monotonic() - tally.started
    return (
        f"{table}: {tally.added:,} copied, {tally.present:,} already there, "
        f"{tally.total:,} in the source ({seconds:.1f} s, {tally.rate():,.0f} rows/s)"
    )


class TerminalBar:
    """One line per table, redrawn in place: rows copied of the table's total, and rate."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tallies = _Tallies()
        self._drawn = 0.0

    def table_started(self, table: str, total: int, present: int) -> None:
        self._draw(table, self._tallies.start(table, total, present))

    def batch_copied(self, table: str, added: int, present: int) -> None:
        tally = self._tallies.add(table, added, present)
        if time.monotonic() - self._drawn >= REDRAW_SECONDS:
            self._draw(table, tally)

    def table_done(self, table: str) -> None:
        self._out.write(f"\r\033[K{summary(table, self._tallies[table])}\n")
        self._out.flush()

    def _draw(self, table: str, tally: _Tally) -> None:
        share = tally.done / tally.total if tally.total else 1.0
        filled = round(share * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self._out.write(
            f"\r\033[K{table:<17} [{bar}] {tally.done:,}/{tally.total:,} "
            f"{share:4.0%}  {tally.rate():,.0f} rows/s"
        )
        self._out.flush()
        self._drawn = time.monotonic()


class PlainLines:
    """For a log or a pipe: a line as each table starts and ends, and one every few seconds
    on a long table, so a log shows the copy is alive."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tallies = _Tallies()
        self._said = 0.0

    def table_started(self, table: str, total: int, present: int) -> None:
        self._tallies.start(table, total, present)
        there = f" ({present:,} already there)" if present else ""
        self._say(f"{table}: copying {total:,} rows{there}")

    def batch_copied(self, table: str, added: int, present: int) -> None:
        tally = self._tallies.add(table, added, present)
        if time.monotonic() - self._said >= PLAIN_EVERY_SECONDS:
            self._say(f"{table}: {tally.done:,} of {tally.total:,}")

    def table_done(self, table: str) -> None:
        self._say(summary(table, self._tallies[table]))

    def _say(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()
        self._said = time.monotonic()
