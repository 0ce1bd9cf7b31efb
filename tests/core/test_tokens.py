"""The tokenizers load from bundled files without touching the network, and count exactly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.tokens import Tokenizers, encoding_name_for


def test_model_families_map_to_their_encodings() -> None:
    assert encoding_name_for("gpt-4o-mini") == "o200k_base"
    assert encoding_name_for("gpt-4") == "cl100k_base"
    assert encoding_name_for("gpt-3.5-turbo") == "cl100k_base"
    assert encoding_name_for("llama3.1:8b") == "o200k_base"


def test_counts_match_known_values(tmp_path: Path) -> None:
    tokenizers = Tokenizers.for_models(["gpt-4o", "gpt-4"], cache_dir=tmp_path)
    # Reference counts from OpenAI's published tokenizers.
    assert tokenizers.count("gpt-4o", "hello world") == 2
    assert tokenizers.count("gpt-4", "tiktoken is great!") == 6
    assert tokenizers.count("gpt-4o", "<|endoftext|>") > 1  # user text, not a control token


def test_truncate_keeps_a_prefix_within_the_limit(tmp_path: Path) -> None:
    tokenizers = Tokenizers(cache_dir=tmp_path)
    text = "word " * 500
    cut = tokenizers.truncate("gpt-4o", text, 50)
    assert text.startswith(cut)
    assert tokenizers.count("gpt-4o", cut) <= 50


def test_loading_never_opens_a_network_connection(tmp_path: Path) -> None:
    # A fresh interpreter with an empty cache: any socket connect is a failure. The audit
    # hook sees every connect attempt, whichever library makes it.
    script = textwrap.dedent(
        f"""
        import sys
        def refuse(event, args):
            if event == "socket.connect":
                raise SystemExit("network access attempted: " + repr(args))
        sys.addaudithook(refuse)
        from pathlib import Path
        from core.tokens import Tokenizers
        t = Tokenizers.for_models(["gpt-4o", "gpt-4"], cache_dir=Path({str(tmp_path)!r}))
        print(t.count("gpt-4o", "hello world"), t.count("gpt-4", "hello world"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2"]


def test_a_damaged_cache_file_is_replaced(tmp_path: Path) -> None:
    Tokenizers.for_models(["gpt-4o"], cache_dir=tmp_path)
    for cached in tmp_path.iterdir():
        cached.write_bytes(b"garbage")
    assert Tokenizers.for_models(["gpt-4o"], cache_dir=tmp_path).count("gpt-4o", "hi") == 1


def test_repeated_text_is_counted_once_and_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenizers = Tokenizers(cache_dir=tmp_path)
    prompt = "You are Parley, a helpful assistant. " * 10
    expected = tokenizers.count("gpt-4o", prompt)
    real_count = tokenizers.count
    calls: list[str] = []

    def counting(model: str, text: str) -> int:
        calls.append(model)
        return real_count(model, text)

    monkeypatch.setattr(tokenizers, "count", counting)
    assert [tokenizers.count_repeated("gpt-4o", prompt) for _ in range(3)] == [expected] * 3
    assert calls == ["gpt-4o"]  # tokenized once, then remembered
    assert tokenizers.count_repeated("gpt-4", prompt) == real_count("gpt-4", prompt)
