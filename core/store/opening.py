"""The store bots.yaml asks for: the SQLite file, or PostgreSQL shared by replicas."""

from __future__ import annotations

from core.config import StorageConfig
from core.store.store import Store


async def open_store(storage: StorageConfig, *, replica: str = "") -> Store:
    if storage.url is not None:
        return await Store.connect(
            storage.url,
            replica=replica,
            pool_min=storage.pool_min,
            pool_max=storage.pool_max,
            synchronous_commit=storage.synchronous_commit,
        )
    return await Store.open(storage.path, replica=replica)
