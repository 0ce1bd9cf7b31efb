"""The model reply the turn benchmarks stream: ~396 tokens in as many chunks as asked."""

from __future__ import annotations

from tests.fakes.openai_server import Script

DEFAULT_CHUNKS = 352  # what OpenAI sends for a 396-token reply: about one token a chunk
STREAM_SECONDS = 4.0  # the whole reply, whatever the chunk count
SENTENCE = "the reply streams in small pieces so every part of the path is paid for once per chunk"
WORDS = SENTENCE.split(" ")
SENTENCE_WORDS = 8


def token_pieces() -> list[str]:
    """352 words of one token each and a full stop after every eighth: 396 tokens."""
    pieces: list[str] = []
    for n in range(DEFAULT_CHUNKS):
        pieces.append(" " + WORDS[n % len(WORDS)])
        if n % SENTENCE_WORDS == SENTENCE_WORDS - 1:
            pieces.append(".")
    return pieces


def reply(chunks: int) -> Script:
    """The same text cut into `chunks` chunks, spread evenly over STREAM_SECONDS."""
    pieces = token_pieces()
    if not 1 <= chunks <= len(pieces):
        raise SystemExit(f"--chunks must be between 1 and {len(pieces)}")
    cut = [len(pieces) * n // chunks for n in range(chunks + 1)]
    return Script(
        chunks=tuple("".join(pieces[cut[n] : cut[n + 1]]) for n in range(chunks)),
        usage=(500, len(pieces), 0),
        delay_between_chunks=STREAM_SECONDS / chunks,
    )


def chunks_from_argv(argv: list[str]) -> int:
    """The fakes processes get the count as their one argument."""
    return int(argv[1]) if len(argv) > 1 else DEFAULT_CHUNKS
