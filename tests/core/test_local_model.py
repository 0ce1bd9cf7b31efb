"""Finding the bundled model and refusing bad model files, with the path in every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.local_model import LlamaCppServer
from core.model_files import (
    LocalModelError,
    bundled_model_path,
    check_model_file,
    local_model_problem,
)


def test_the_bundled_model_is_found_through_its_package() -> None:
    path = bundled_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    assert check_model_file(path) == path
    assert local_model_problem(None) is None


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "qwen.gguf"
    with pytest.raises(LocalModelError, match=f"model file {missing} does not exist"):
        check_model_file(missing)
    assert local_model_problem(missing) == f"model file {missing} does not exist"


def test_a_file_that_is_not_gguf_is_named(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 this is a zip file, not a model")
    with pytest.raises(LocalModelError, match=f"model file {fake} is not a GGUF file"):
        check_model_file(fake)


def test_the_server_refuses_a_bad_file_before_llama_cpp_sees_it(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a model")
    server = LlamaCppServer(fake, context_size=512, threads=1, parallel=1)
    with pytest.raises(LocalModelError, match="is not a GGUF file"):
        server.start()


def test_llama_cpp_load_failures_name_the_path(tmp_path: Path) -> None:
    # Right magic, garbage after it: llama.cpp itself refuses it.
    broken = tmp_path / "truncated.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    server = LlamaCppServer(broken, context_size=512, threads=1, parallel=1)
    with pytest.raises(LocalModelError, match=f"llama.cpp could not load {broken}"):
        server.start()
