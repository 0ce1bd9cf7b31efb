"""Splitting Markdown replies into platform messages: limits, breaks, fences, streaming."""

from __future__ import annotations

import random
import re

import pytest

from bots.split import MIN_LIMIT, GrowingSplit, split_message

SLACK = 3_900
DISCORD = 2_000
FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})")


def fence_lines(part: str) -> list[str]:
    return [line for line in part.split("\n") if FENCE_LINE.match(line)]


def unsplit(original: str, parts: list[str]) -> list[str]:
    """The parts without added fence lines, matched in order against the original.

    Only whitespace may lie between matched pieces. A close is stripped from part i exactly
    when a reopen is stripped from part i + 1 (or part i is the last and only blanks follow).
    """
    original = original.replace("\r\n", "\n")
    seen: set[tuple[int, int, bool]] = set()

    def match(index: int, pos: int, reopened: bool) -> list[str] | None:
        if index == len(parts):
            return [] if not original[pos:].strip() else None
        if (index, pos, reopened) in seen:
            return None
        seen.add((index, pos, reopened))
        part = parts[index]
        if reopened:
            head, _, part = part.partition("\n")
            assert FENCE_LINE.match(head), f"part {index} does not reopen a fence: {head!r}"
        for closed in (False, True):
            piece = part
            if closed:
                piece, _, tail = part.rpartition("\n")
                if not FENCE_LINE.fullmatch(tail):
                    continue
            gap = pos
            while True:
                if original.startswith(piece, gap):
                    rest = match(index + 1, gap + len(piece), closed)
                    if rest is not None:
                        return [piece, *rest]
                if gap == len(original) or not original[gap].isspace():
                    break
                gap += 1
        return None

    pieces = match(0, 0, False)
    assert pieces is not None, "the parts do not reproduce the original text"
    return pieces


def squash(text: str) -> str:
    return "".join(text.split())


def check(text: str, limit: int) -> list[str]:
    """Splits and checks the invariants every split must keep."""
    parts = split_message(text, limit)
    assert all(0 < len(part) <= limit and part.strip() for part in parts)
    pieces = unsplit(text, parts)
    assert squash("".join(pieces)) == squash(text)
    return parts


@pytest.mark.parametrize("limit", [-1, 0, 1, MIN_LIMIT - 1])
def test_rejects_limits_too_small_for_fences(limit: int) -> None:
    with pytest.raises(ValueError, match="at least 20"):
        split_message("hello", limit)


@pytest.mark.parametrize("text", ["", " ", "\n\n", " \t\r\n"])
def test_blank_text_gives_no_parts(text: str) -> None:
    assert split_message(text, MIN_LIMIT) == []


def test_text_that_fits_is_one_unchanged_part() -> None:
    text = "Hello *world*.\n\n```python\nprint(1)\n```"
    assert split_message(text, 2_000) == [text]
    exact = "x" * 40
    assert split_message(exact, 40) == [exact]
    assert split_message(exact + "y", 40) == [exact, "y"]


def test_prefers_the_last_blank_line() -> None:
    text = "one two\nthree four\n\nfive six\nseven eight nine ten eleven twelve"
    parts = check(text, 40)
    assert parts == ["one two\nthree four", "five six", "seven eight nine ten eleven twelve"]


def test_falls_back_to_the_last_newline() -> None:
    text = "alpha beta\ngamma delta\nepsilon zeta eta theta iota kappa"
    assert check(text, 30)[0] == "alpha beta\ngamma delta"


def test_falls_back_to_the_last_space() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    parts = check(text, 25)
    assert parts[0] == "alpha beta gamma delta"
    assert parts[1] == "epsilon zeta eta theta"


def test_hard_cuts_a_word_longer_than_the_limit() -> None:
    text = "short " + "x" * 70
    parts = check(text, 30)
    assert parts == ["short", "x" * 30, "x" * 30, "x" * 10]


def test_windows_line_endings_break_like_newlines() -> None:
    text = "first line here\r\n\r\nsecond line\r\n```python\r\nprint(1)\r\nprint(2)\r\n```\r\n"
    parts = check(text, 30)
    assert not any("\r" in part for part in parts)
    assert parts[0] == "first line here"
    assert all(line == "```python" for part in parts for line in fence_lines(part)[:1])


def test_closes_and_reopens_a_fence_with_its_language() -> None:
    code = "\n".join(f"value_{i} = compute({i})" for i in range(12))
    text = f"Here is the code:\n\n```python\n{code}\n```\n\nDone."
    parts = check(text, 120)
    assert len(parts) > 2
    for index, part in enumerate(parts):
        assert len(fence_lines(part)) % 2 == 0, part
        if 0 < index < len(parts) - 1:
            assert part.startswith("```python\n") and part.endswith("\n```")
    body = [line for part in parts for line in part.split("\n") if line.startswith("value_")]
    assert "\n".join(body) == code


def test_limit_includes_the_added_fence_lines() -> None:
    text = "```javascript\n" + "\n".join("x" * 9 for _ in range(40)) + "\n```"
    for limit in range(MIN_LIMIT, 80):
        parts = check(text, limit)
        assert max(map(len, parts)) <= limit
        assert all(len(fence_lines(part)) == 2 for part in parts)


def test_never_ends_right_after_an_opening_fence() -> None:
    text = "Some prose before the code.\n```python\n" + "y = 1  # " + "z" * 60 + "\n```"
    parts = check(text, 50)
    assert parts[0] == "Some prose before the code."
    assert parts[1].startswith("```python\ny = 1")
    for part in parts:
        assert not re.search(r"```python\n```$", part)


def test_does_not_open_the_next_part_with_an_empty_block() -> None:
    # At limit 43 the closing fence lands right at the edge of the first window.
    text = "intro\n```\n" + "a" * 20 + "\n" + "b" * 8 + "\n```\nafter the block"
    assert split_message(text, 43)[0] == "intro\n```\n" + "a" * 20 + "\n```"
    for limit in range(MIN_LIMIT, len(text)):
        assert all("```\n```" not in part for part in check(text, limit)), limit


def test_a_line_longer_than_the_limit_inside_a_fence_is_hard_cut() -> None:
    line = "".join(str(i % 10) for i in range(150))
    text = f"```sql\n{line}\n```"
    parts = check(text, 50)
    assert all(part.startswith("```sql\n") and len(fence_lines(part)) == 2 for part in parts)
    inner = "".join(part.split("\n")[1] for part in parts)
    assert inner == line


def test_four_backtick_fence_is_not_closed_by_three() -> None:
    inner = "\n".join(["```python", "print('nested')", "```"] * 6)
    text = f"````markdown\n{inner}\n````\ntail"
    parts = check(text, 60)
    assert len(parts) > 2
    for part in parts[:-1]:
        assert part.startswith("````markdown\n") or part == parts[0]
        assert part.endswith("\n````")
    assert parts[-1].endswith("````\ntail")


def test_tilde_fence_closes_with_tildes() -> None:
    text = "~~~text\n" + "\n".join(f"row {i}" for i in range(20)) + "\n~~~"
    parts = check(text, 40)
    assert all(part.startswith("~~~text\n") for part in parts)
    assert all(part.endswith("\n~~~") for part in parts)


def test_an_unclosed_fence_is_closed_at_cuts_and_at_the_end() -> None:
    text = "```python\n" + "\n".join(f"step({i})" for i in range(9))
    parts = check(text, 40)
    assert all(part.endswith("\n```") for part in parts[:-1])
    assert parts[-1] == "```python\nstep(6)\nstep(7)\nstep(8)\n```"
    assert split_message("a\n```\nb\n", 40) == ["a\n```\nb\n```"]


def test_an_unclosed_fence_at_the_very_limit_stays_open_rather_than_cut() -> None:
    text = "```\n" + "x" * 34
    assert split_message(text, 40) == [text]


def test_inline_triple_backticks_are_not_fences() -> None:
    text = "```inline``` code is not a fence " * 4
    parts = check(text, 40)
    assert all(not part.endswith("\n```") for part in parts)


def long_reply() -> tuple[str, dict[str, str]]:
    prose = (
        "Parley keeps each conversation separate, so a long answer in one channel never "
        "delays another. The notes below explain the layout and show the code involved."
    )
    bullets = "\n".join(
        f"- Step {i}: check the setting named `option_{i}` first." for i in range(8)
    )
    table = "| key | meaning |\n|-----|---------|\n" + "\n".join(
        f"| k{i} | value number {i} |" for i in range(10)
    )
    code = {
        "python": "\n".join(f"def handler_{i}(event):\n    return event" for i in range(12)),
        "bash": "\n".join(f"echo 'deploy stage {i}' && sleep 1" for i in range(10)),
        "javascript": "\n".join(
            f"const total{i} = items.map((x) => x * {i}).reduce((a, b) => a + b, 0);"
            for i in range(64)
        ),
    }
    blocks = [f"```{lang}\n{body}\n```" for lang, body in code.items()]
    sections = [prose, bullets, table, blocks[0], prose, blocks[1], prose, blocks[2], prose]
    text = "\n\n".join(sections)
    text += "\n\n" + "\n\n".join([prose] * ((9_000 - len(text)) // (len(prose) + 2)))
    return text, code


def code_bodies(parts: list[str]) -> dict[str, list[str]]:
    """The code lines of each language, in order, across all parts."""
    bodies: dict[str, list[str]] = {}
    for part in parts:
        language: str | None = None
        for line in part.split("\n"):
            if FENCE_LINE.match(line):
                language = None if language is not None else line[3:]
            elif language is not None:
                bodies.setdefault(language, []).append(line)
    return bodies


@pytest.mark.parametrize("limit", [SLACK, DISCORD])
def test_long_reply_splits_into_balanced_parts(limit: int) -> None:
    text, code = long_reply()
    assert 8_800 <= len(text) <= 9_000
    assert len(code["javascript"]) > SLACK
    parts = check(text, limit)
    assert len(parts) >= len(text) // limit + 1
    assert all(len(fence_lines(part)) % 2 == 0 for part in parts)
    bodies = code_bodies(parts)
    assert {lang: "\n".join(lines) for lang, lines in bodies.items()} == code
    # The long block spans parts, and each continuation reopens it with its language.
    spanning = [part for part in parts if "const total" in part]
    assert len(spanning) >= 2
    assert all(part.startswith("```javascript\n") for part in spanning[1:])
    assert all(part.endswith("\n```") for part in spanning[:-1])


def random_markdown(rng: random.Random, size: int, stray_fences: bool = True) -> str:
    """Prose and code blocks; stray fences are words that open a block at a line start."""
    words = ["a", "word", "longerword", "x" * 45, "`tick`", "-", "|", "a```b", "  "]
    if stray_fences:
        words += ["```not", "~~~~"]
    out: list[str] = []
    while sum(map(len, out)) < size:
        roll = rng.random()
        if roll < 0.15:
            opener = rng.choice(["```", "```python", "````md", "~~~", "```js"])
            run = opener.rstrip("pythonjsmd")
            lines = [
                " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
                for _ in range(rng.randint(1, 6))
            ]
            if run == "````":
                lines.insert(rng.randint(0, len(lines)), "```inner")
            out.append(f"prose\n{opener}\n" + "\n".join(lines) + f"\n{run}\nprose")
        else:
            out.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 10))))
        out.append(rng.choice(["\n", "\n\n", " ", "\r\n", "\n\n\n"]))
    return "".join(out)


def empty_block_at_a_cut(part: str) -> bool:
    """An opener right before the added close, or a reopen right before the closer."""
    openers = ["```python", "````md", "```js"]
    return any(
        part.endswith(f"\n{opener}\n{run}") or part.startswith(f"{opener}\n{run}\n")
        for opener in openers
        for run in [opener.rstrip("pythonjsmd")]
    )


@pytest.mark.parametrize("stray_fences", [False, True])
def test_random_texts_keep_every_invariant(stray_fences: bool) -> None:
    rng = random.Random(20240611)
    for _ in range(300):
        text = random_markdown(rng, rng.randint(0, 1_500), stray_fences)
        limit = rng.choice([MIN_LIMIT, 23, 31, 50, 97, 400])
        parts = check(text, limit)
        if not stray_fences:
            assert not any(map(empty_block_at_a_cut, parts)), (text, limit)
            # "```inner" is content of a four-backtick block (and may be cut at tiny limits).
            for part in parts[:-1]:
                fences = [line for line in fence_lines(part) if not line.startswith("```i")]
                assert len(fences) % 2 == 0, (text, limit, part)


def test_parts_before_the_last_never_change_as_the_text_grows() -> None:
    rng = random.Random(7)
    checked = 0
    for _ in range(150):
        text = random_markdown(rng, rng.randint(50, 2_500))
        limit = rng.choice([MIN_LIMIT, 27, 60, 150, 400])
        full = split_message(text, limit)
        for cut in sorted(rng.sample(range(len(text) + 1), min(25, len(text) + 1))):
            prefix = split_message(text[:cut], limit)
            assert prefix[:-1] == full[: max(len(prefix) - 1, 0)], (text, cut, limit)
            checked += max(len(prefix) - 1, 0)
    assert checked > 1_000


def test_streaming_every_character_is_stable() -> None:
    rng = random.Random(99)
    for _ in range(12):
        text = random_markdown(rng, 300)
        limit = rng.choice([MIN_LIMIT, 32])
        full = split_message(text, limit)
        for cut in range(len(text) + 1):
            prefix = split_message(text[:cut], limit)
            assert prefix[:-1] == full[: max(len(prefix) - 1, 0)], (text, cut, limit)


@pytest.mark.parametrize("limit", [SLACK, DISCORD])
def test_long_reply_streams_stably(limit: int) -> None:
    text, _ = long_reply()
    full = split_message(text, limit)
    for cut in range(0, len(text), 37):
        prefix = split_message(text[:cut], limit)
        assert prefix[:-1] == full[: max(len(prefix) - 1, 0)], cut


def pieces(rng: random.Random, text: str) -> list[str]:
    """`text` cut at random places, as a model streams it (a "\r\n" may fall apart)."""
    cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(0, 60))))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


def test_a_growing_split_gives_what_split_message_gives_at_every_step() -> None:
    rng = random.Random(16)
    steps = 0
    for _ in range(200):
        text = random_markdown(rng, rng.randint(1, 2_500))
        limit = rng.choice([MIN_LIMIT, 27, 60, 150, 400])
        growing, so_far = GrowingSplit(limit), ""
        for piece in pieces(rng, text):
            growing.add(piece)
            so_far += piece
            if rng.random() < 0.5:  # an edit does not follow every piece
                assert growing.parts() == split_message(so_far, limit), (text, so_far, limit)
                steps += 1
        assert growing.parts() == split_message(text, limit), (text, limit)
    assert steps > 2_000


def test_a_growing_split_of_odd_pieces_gives_what_split_message_gives() -> None:
    """Stray carriage returns, fences, blanks and empty pieces, called again and again."""
    rng = random.Random(3)
    bits = ["\n", "\n\n", " ", "\r", "\r\n", "```", "~~~", "abc", "x" * 30, "```py\n", "   ", ""]
    for _ in range(1_500):
        limit = rng.choice([MIN_LIMIT, 21, 25, 40])
        growing, text = GrowingSplit(limit), ""
        assert growing.parts() == []
        for _ in range(rng.randint(0, 40)):
            piece = "".join(rng.choice(bits) for _ in range(rng.randint(0, 4)))
            growing.add(piece)
            text += piece
            if rng.random() < 0.6:
                assert growing.parts() == growing.parts() == split_message(text, limit), (
                    text,
                    limit,
                )


def test_a_growing_split_joins_a_line_ending_cut_between_pieces() -> None:
    growing = GrowingSplit(MIN_LIMIT)
    for piece in ["one two three four five\r", "\nsix seven eight\r", "\r", "\nnine"]:
        growing.add(piece)
        growing.parts()
    assert growing.parts() == split_message(
        "one two three four five\r\nsix seven eight\r\r\nnine", MIN_LIMIT
    )
    assert not any("\r\n" in part for part in growing.parts())


@pytest.mark.parametrize("limit", [SLACK, DISCORD])
def test_a_long_reply_streamed_into_a_growing_split_ends_as_split_message(limit: int) -> None:
    text, _ = long_reply()
    growing = GrowingSplit(limit)
    for start in range(0, len(text), 37):
        growing.add(text[start : start + 37])
        assert growing.parts() == split_message(text[: start + 37], limit)


def test_a_growing_split_rejects_a_limit_too_small_for_fences() -> None:
    with pytest.raises(ValueError, match="at least"):
        GrowingSplit(MIN_LIMIT - 1)
