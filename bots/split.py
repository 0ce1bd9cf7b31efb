"""Splits a Markdown reply into messages that each fit a chat platform's size limit."""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_LIMIT = 20
"""The smallest limit that still holds a reopened fence, its closing line and some content."""

# CommonMark fences: up to three spaces of indentation, then three or more backticks or tildes.
_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
_FENCE_PREFIX = re.compile(r" {0,3}(`+|~+)")
_VISIBLE = re.compile(r"\S")

# Break preferences, best last so that candidates compare as tuples.
_HARD, _SPACE, _NEWLINE, _PARAGRAPH = range(4)


@dataclass(frozen=True)
class _Fence:
    """An open code fence: the marker that closes it and the line that reopens it."""

    char: str
    size: int
    marker: str
    reopen: str

    def closed_by(self, line: str) -> bool:
        match = _FENCE.fullmatch(line)
        if match is None:
            return False
        run = match.group(2)
        return run[0] == self.char and len(run) >= self.size and not match.group(3).strip()


@dataclass(frozen=True)
class _Cut:
    """Where a part ends: its content is window[:end] and the next part resumes at resume."""

    rank: tuple[bool, int, int]
    end: int
    resume: int
    fence: _Fence | None


def _opened_by(line: str, limit: int) -> _Fence | None:
    match = _FENCE.fullmatch(line)
    if match is None:
        return None
    indent, run, info = match.groups()
    # Backticks after a backtick run make inline code (```x```), not a fence.
    if run[0] == "`" and "`" in info:
        return None
    marker = indent + run
    # Reopening and closing must leave at least half of every part for content; an absurdly
    # long info string is dropped from the reopened line rather than starving the parts.
    budget = limit // 2
    if 2 * len(marker) + 2 > budget:
        return None
    reopen = line if len(line) + len(marker) + 2 <= budget else marker
    return _Fence(run[0], len(run), marker, reopen)


def _after_line(fence: _Fence | None, line: str, limit: int) -> _Fence | None:
    if fence is None:
        return _opened_by(line, limit)
    return None if fence.closed_by(line) else fence


def _may_close(fence: _Fence, line: str, complete: bool) -> bool:
    if complete:
        return fence.closed_by(line)
    # The line runs past the window, so it may still turn out to be the closing fence.
    stripped = line.strip()
    return bool(stripped) and set(stripped) == {fence.char}


class _Chooser:
    """Scans one window and keeps the best place to end the part within it."""

    def __init__(self, window: str, room: int, limit: int) -> None:
        self.window = window
        self.room = room
        self.limit = limit
        self.best: _Cut | None = None

    def consider(
        self,
        end: int,
        resume: int,
        kind: int,
        fence: _Fence | None,
        code_from: int,
        tidy: bool = True,
    ) -> None:
        closing = len(fence.marker) + 1 if fence else 0
        if end < 1 or end + closing > self.room:
            return
        visible = _VISIBLE.search(self.window, code_from if fence else 0, end)
        # Blank parts and parts that show an empty code block are a last resort.
        tidy = tidy and visible is not None
        tidy = tidy and not (fence and _reopens_to_close(self.window, resume, fence))
        rank = (tidy, kind, end)
        if self.best is None or rank > self.best.rank:
            self.best = _Cut(rank, end, resume, fence)

    def within_line(
        self, start: int, stop: int, fence: _Fence | None, code_from: int, fence_line: bool
    ) -> None:
        """Cuts inside the line window[start:stop], before stop unless stop ends the window."""
        last = stop if stop == len(self.window) else stop - 1
        if fence_line:
            # Only when nothing else fits: the cut-off head of the line decides the fence.
            end = min(last, self.room)
            while end > start:
                after = _after_line(fence, self.window[start:end], self.limit)
                closing = len(after.marker) + 1 if after else 0
                if end + closing <= self.room:
                    self.consider(end, end, _HARD, after, end, tidy=False)
                    return
                end -= 1
            return
        closing = len(fence.marker) + 1 if fence else 0
        ends = [min(last, self.room - closing)]
        if fence:
            # If only blanks and the closing fence follow this line, a cut that leaves some of
            # it to the next part keeps that part from opening with an empty block.
            ends.append(min(ends[0], start + len(self.window[start:stop].rstrip()) - 1))
        for end in ends:
            if end > start:
                self.consider(end, end, _HARD, fence, code_from)
            space = self.window.rfind(" ", start + 1, end + 1)
            if space > start:
                self.consider(space, space + 1, _SPACE, fence, code_from)


def _best_cut(window: str, fence: _Fence | None, at_line_start: bool, limit: int) -> _Cut:
    room = limit - (len(fence.reopen) + 1 if fence else 0)
    chooser = _Chooser(window, room, limit)
    code_from = 0
    start = 0
    while start < len(window):
        newline = window.find("\n", start)
        stop = len(window) if newline < 0 else newline
        line = window[start:stop]
        fence_line = at_line_start and _is_fence_line(fence, line, newline >= 0, limit)
        chooser.within_line(start, stop, fence, code_from, fence_line)
        if newline < 0:
            break
        if at_line_start:
            after = _after_line(fence, line, limit)
            if after is not fence:
                code_from = newline + 1
            fence = after
        if newline > start:
            kind = _PARAGRAPH if window.startswith("\n", newline + 1) else _NEWLINE
            chooser.consider(newline, newline + 1, kind, fence, code_from)
        start = newline + 1
        at_line_start = True
    if chooser.best is None:
        raise AssertionError("a one-character cut always fits")  # limit >= MIN_LIMIT
    return chooser.best


def _is_fence_line(fence: _Fence | None, line: str, complete: bool, limit: int) -> bool:
    if _after_line(fence, line, limit) is not fence:
        return True
    # A short run cut off by the window may be the start of a fence line.
    return not complete and _FENCE_PREFIX.fullmatch(line) is not None


def _reopens_to_close(window: str, resume: int, fence: _Fence) -> bool:
    # The next part would open with an empty block if what follows the cut is only blanks and
    # then the closing fence.
    visible = _VISIBLE.search(window, resume)
    if visible is None:
        return False
    line_start = window.rfind("\n", 0, visible.start()) + 1
    if line_start < resume:
        return False
    newline = window.find("\n", line_start)
    if newline < 0:
        return _may_close(fence, window[line_start:], complete=False)
    return _may_close(fence, window[line_start:newline], complete=True)


def split_message(text: str, limit: int) -> list[str]:
    """Splits Markdown text into parts of at most `limit` characters each.

    A code fence open at a cut is closed at the end of the part and reopened, with its
    language, at the start of the next; both lines count against the limit. Each part
    depends only on the next `limit` characters from where it starts, so a part that is not
    the last stays the same as the text grows (streamed replies rely on this). Windows line
    endings become "\n"; blank text gives no parts. A fence the text leaves open is closed at
    its end when the closing line fits, so the last part shows as a code block too.
    """
    _check(limit)
    split = _split(text.replace("\r\n", "\n"), limit, _Resume())
    return split.fixed + split.last


def closing_fence(text: str, limit: int) -> str:
    """The line that closes the code fence `text` leaves open ("" when none is), so what is
    added after the text (a note, a failure's notice) shows as words, not as code."""
    return _closing(None, text.replace("\r\n", "\n"), True, limit)


class GrowingSplit:
    """split_message for a text that only grows, as a streamed reply does.

    Parts cut before the last never change as the text grows, so they are kept and each
    call splits only what follows them: an edit of a long reply costs its last part, not
    the whole reply again.
    """

    def __init__(self, limit: int) -> None:
        _check(limit)
        self._limit = limit
        self._fixed: list[str] = []
        self._rest = ""  # the text after the fixed parts, as split_message sees it
        self._resume = _Resume()
        self._added: list[str] = []  # joined at the next split, not per piece

    def add(self, text: str) -> None:
        self._added.append(text)

    def parts(self) -> list[str]:
        """split_message of all the text added so far."""
        if self._added:
            added = "".join(self._added)
            self._added.clear()
            if self._rest.endswith("\r") and added.startswith("\n"):
                # A "\r\n" cut between pieces (a fixed part never holds the text's last
                # character, so its "\r" is here). Only new text is made "\n": the rest's
                # own "\r" of a "\r\r\n" must stay, as it does in split_message.
                self._rest, added = self._rest[:-1], "\r" + added
            self._rest += added.replace("\r\n", "\n")
        split = _split(self._rest, self._limit, self._resume)
        if split.fixed:
            self._fixed += split.fixed
            self._rest = self._rest[split.consumed :]
            self._resume = split.resume
        return self._fixed + split.last


def _check(limit: int) -> None:
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT} characters, got {limit}")


@dataclass(frozen=True)
class _Resume:
    """How the text after a cut goes on: what a part that starts there depends on."""

    fence: _Fence | None = None  # the fence open at the cut, reopened by the next part
    after_newline: bool = True  # the character before it ends a line (or there is none)
    cut: bool = False  # False at the very start of the text


@dataclass(frozen=True)
class _Split:
    fixed: list[str]  # parts no later text can change
    last: list[str]  # the part after them, if any: it changes as the text grows
    consumed: int  # where the text after the fixed parts begins
    resume: _Resume  # and how it goes on there


def _split(text: str, limit: int, resume: _Resume) -> _Split:
    """Splits `text`, which goes on from `resume`; see split_message."""
    fixed: list[str] = []
    consumed = start = 0
    while True:
        if resume.cut:
            # Newlines at a cut separated what is now two messages, so they carry nothing.
            while start < len(text) and text[start] == "\n":
                start += 1
        fence = resume.fence
        prefix = f"{fence.reopen}\n" if fence else ""
        at_line_start = text[start - 1] == "\n" if start else resume.after_newline
        tail = prefix + text[start:]
        if len(tail) <= limit:
            last: list[str] = []
            if text[start:].strip():
                closed = tail + _closing(fence, text[start:], at_line_start, limit)
                # Closing only when it fits keeps every earlier part as it was while streaming.
                last.append(closed if len(closed) <= limit else tail)
            return _Split(fixed, last, consumed, resume)
        window = text[start : start + limit - len(prefix)]
        cut = _best_cut(window, fence, at_line_start, limit)
        body = prefix + window[: cut.end]
        if body.strip():
            fixed.append(body + (f"\n{cut.fence.marker}" if cut.fence else ""))
        consumed = start = start + cut.resume
        resume = _Resume(cut.fence, text[start - 1] == "\n", cut=True)


def _closing(fence: _Fence | None, tail: str, at_line_start: bool, limit: int) -> str:
    """The line that closes a fence `tail` leaves open (a model may never close one)."""
    for index, line in enumerate(tail.split("\n")):
        if index or at_line_start:
            fence = _after_line(fence, line, limit)
    if fence is None:
        return ""
    return fence.marker if tail.endswith("\n") else f"\n{fence.marker}"
