"""This process's name among the replicas on one database."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def replica_name(env: Mapping[str, str] = os.environ) -> str:
    """`PARLEY_REPLICA`, else the host name: a container's is its own and survives its
    restarts, so a restarted replica finds the replies it left unfinished."""
    return env.get("PARLEY_REPLICA", "").strip() or socket.gethostname()
