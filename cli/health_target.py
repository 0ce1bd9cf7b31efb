"""Where `parley health` asks, read from bots.yaml's `monitoring` without the config models.

The HEALTHCHECK runs every 30 s for the container's life, and importing the validated config
(pydantic and every model) costs more than the check itself. A plain `monitoring` section
(literal values of the right types, or none) is read here; anything else (a ${VAR}
reference, an unknown key, a value of the wrong type, an unreadable file) is left to the
full loader, which reports it with file, line and key. Only this one section is read: the
running `parley run` validated the whole file when it started.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

MONITORING_KEYS = frozenset({"enabled", "host", "port"})


@dataclass(frozen=True, slots=True)
class HealthTarget:
    enabled: bool
    host: str
    port: int


# MonitoringConfig's defaults; a test keeps the two equal.
DEFAULT_TARGET = HealthTarget(enabled=True, host="127.0.0.1", port=9464)


def plain_target(path: Path) -> HealthTarget | None:
    """The section's settings when it is plain, else None (then ask the full loader)."""
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(data, dict):
        return None
    section = data.get("monitoring", {})
    if not isinstance(section, dict) or not section.keys() <= MONITORING_KEYS:
        return None
    enabled = section.get("enabled", DEFAULT_TARGET.enabled)
    host = section.get("host", DEFAULT_TARGET.host)
    port = section.get("port", DEFAULT_TARGET.port)
    # `type is`, not isinstance: bool is an int, and YAML's `yes` is a bool.
    plain = (
        type(enabled) is bool
        and type(host) is str
        and "$" not in host
        and type(port) is int
        and 0 <= port <= 65535
    )
    return HealthTarget(enabled, host, port) if plain else None
