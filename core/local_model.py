"""A llama.cpp server inside Parley, started on first use and spoken to like any other endpoint."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from core.llm import ModelClient, ModelEvent, ModelRequest, OpenAICompatibleClient

# The checks that need no server (and no openai) live in core.model_files, for `parley check`.
from core.model_files import (
    LocalModelError,
    bundled_model_path,
    check_model_file,
    load_xllamacpp,
)

log = logging.getLogger(__name__)


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
        self._starting = asyncio.Lock()

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        client = await self._started()
        async for event in client.stream(request):
            yield event

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        await asyncio.to_thread(self._server.stop)

    async def _started(self) -> ModelClient:
        async with self._starting:
            if self._client is None:
                base_url = await asyncio.to_thread(self._server.start)
                self._client = OpenAICompatibleClient(
                    base_url=base_url,
                    api_key=None,
                    timeout=self._timeout,
                    max_retries=self._max_retries,
                )
            return self._client
