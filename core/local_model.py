"""A llama.cpp server inside Parley, started on first use and spoken to like any other endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, Protocol

from core.llm import ModelClient, ModelEvent, ModelRequest, OpenAICompatibleClient

# The checks that need no server (and no openai) live in core.model_files, for `parley check`.
from core.model_files import (
    LocalModelError,
    bundled_model_path,
    check_model_file,
    load_xllamacpp,
)

log = logging.getLogger(__name__)

# "qwen2.5-3b-instruct-q4_k_m.gguf" → "qwen2.5-3b-instruct": the quantization says nothing
# to a person waiting for the model.
_QUANTIZATION = re.compile(r"[.-](i?q\d\w*|bf16|f16|f32)$", re.IGNORECASE)


def model_label(path: Path) -> str:
    """What a person calls the model in this file."""
    stem = path.name.removesuffix(".gguf")
    return _QUANTIZATION.sub("", stem) or stem


class StartWatcher(Protocol):
    """Hears when a local model starts loading and how that ended, to tell a person who
    waits for it (core prints nothing; the console renders these)."""

    def starting(self, model: str) -> None: ...

    def ready(self, model: str, seconds: float) -> None: ...

    def failed(self, model: str, error: Exception) -> None: ...


class NoStartWatcher:
    def starting(self, model: str) -> None:
        pass

    def ready(self, model: str, seconds: float) -> None:
        pass

    def failed(self, model: str, error: Exception) -> None:
        pass


class LlamaCppServer:
    """llama.cpp's own HTTP server (xllamacpp), on 127.0.0.1 and a free port."""

    def __init__(
        self, model_path: Path | None, *, context_size: int, threads: int | None, parallel: int
    ) -> None:
        self._model_path = model_path
        self._context_size = context_size
        self._threads = threads or os.cpu_count() or 1
        self._parallel = parallel
        self._server: Any = None

    @property
    def model_path(self) -> Path:
        return self._model_path or bundled_model_path()

    @property
    def label(self) -> str:
        try:
            return model_label(self.model_path)
        except LocalModelError:
            return "the bundled model"  # not installed: start() says so in full

    def start(self) -> str:
        """Loads the model (blocking, ~1 s for the bundled one); returns the base URL."""
        path = check_model_file(self.model_path)
        xllamacpp = load_xllamacpp()
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        # llama.cpp divides n_ctx among the slots; each conversation gets context_size.
        params.n_ctx = self._context_size * self._parallel
        params.n_parallel = self._parallel
        params.cpuparams.n_threads = self._threads
        params.cpuparams_batch.n_threads = self._threads
        params.port = 0  # any free port, on the loopback address it binds by default
        params.verbosity = -1  # its per-request logging would flood Parley's
        try:
            self._server = xllamacpp.Server(params)
        except RuntimeError as failure:
            raise LocalModelError(
                f"llama.cpp could not load {path} (not enough memory, or a model it "
                f"does not support): {failure}"
            ) from failure
        address: str = self._server.listening_address
        log.info("local model %s serving on %s", path.name, address)
        return f"{address}/v1"

    def stop(self) -> None:
        # The server's destructor stops its threads; dropping the last reference runs it.
        self._server = None


class LocalModelClient:
    """A ModelClient that starts its server on first use, then is an ordinary
    OpenAI-compatible client pointed at it: the engine sees no difference."""

    def __init__(self, server: LlamaCppServer, *, timeout: float, max_retries: int) -> None:
        self._server = server
        self._timeout = timeout
        self._max_retries = max_retries
        self._client: ModelClient | None = None
        self._start: asyncio.Task[ModelClient] | None = None
        # Set by whoever shows progress (the terminal chat); nobody by default.
        self.start_watcher: StartWatcher = NoStartWatcher()

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        client = await self._started()
        async for event in client.stream(request):
            yield event

    async def close(self) -> None:
        if self._start is not None and not self._start.done():
            # The load runs in a thread that cannot be stopped: let it end, then stop it.
            with contextlib.suppress(Exception):
                await self._start
        if self._client is not None:
            await self._client.close()
            self._client = None
        await asyncio.to_thread(self._server.stop)

    async def _started(self) -> ModelClient:
        if self._client is not None:
            return self._client
        if self._start is None or _failed(self._start):
            # One start at a time, owned by this client: a turn stopped while it waits
            # (Ctrl-C in the chat) leaves the load running for the next turn, instead of
            # abandoning a half-loaded server and starting another.
            self._start = asyncio.create_task(self._started_now(), name="local-model-start")
            self._start.add_done_callback(_retrieved)
        return await asyncio.shield(self._start)

    async def _started_now(self) -> ModelClient:
        label = self._server.label
        self.start_watcher.starting(label)
        began = time.monotonic()
        try:
            base_url = await asyncio.to_thread(self._server.start)
        except Exception as error:
            self.start_watcher.failed(label, error)
            raise
        self.start_watcher.ready(label, time.monotonic() - began)
        self._client = OpenAICompatibleClient(
            base_url=base_url,
            api_key=None,
            timeout=self._timeout,
            max_retries=self._max_retries,
        )
        return self._client


def _failed(task: asyncio.Task[ModelClient]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


def _retrieved(task: asyncio.Task[ModelClient]) -> None:
    # A failed start whose waiting turn was stopped is reported to the next turn, which
    # starts again; asyncio must not also log it as never retrieved.
    if not task.cancelled():
        task.exception()
