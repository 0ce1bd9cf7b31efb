"""`parley health`: asks the running `parley run` for /healthz, for a container HEALTHCHECK."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cli.health_target import HealthTarget, plain_target

TIMEOUT_SECONDS = 4.0  # under Docker's default 5 s HEALTHCHECK timeout
# A server listening on every address is asked on loopback.
_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def health(args: argparse.Namespace) -> int:
    healthy, summary = ask_health(plain_target(args.config) or _validated_target(args.config))
    print(summary)
    return 0 if healthy else 1


def _validated_target(path: Path) -> HealthTarget:
    # Only when the section is not plain: the full loader explains what is wrong with it.
    from bots.config_models import load_config

    settings = load_config(path).monitoring
    return HealthTarget(settings.enabled, settings.host, settings.port)


def health_url(settings: HealthTarget) -> str:
    host = _LOOPBACK.get(settings.host, settings.host)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}/healthz"


def ask_health(settings: HealthTarget, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Whether `parley run` says it is healthy, and a one-line summary of why (not)."""
    if not settings.enabled:
        return False, "monitoring.enabled is false in bots.yaml: nothing answers health checks"
    if settings.port == 0:
        return False, "monitoring.port is 0 (any free port): set a fixed port to check health"
    url = health_url(settings)
    # Loopback: an HTTP(S)_PROXY from the environment must not be asked.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return True, summarize(json.loads(response.read()))
    except urllib.error.HTTPError as refusal:
        with refusal:
            body = refusal.read()
        try:
            return False, summarize(json.loads(body))
        except ValueError:
            return False, f"{url} answered HTTP {refusal.code}"
    except (OSError, ValueError) as error:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        return False, f"no answer from {url} ({reason}): is `parley run` running?"


def summarize(body: Any) -> str:
    """One line from a /healthz body: every check when healthy, the failing ones when not."""
    checks = body.get("checks", {}) if isinstance(body, dict) else {}
    failing = body.get("failing", []) if isinstance(body, dict) else []
    if failing:
        return "unhealthy: " + ", ".join(f"{name} {checks.get(name, '?')}" for name in failing)
    return "ok: " + ", ".join(f"{name} {detail}" for name, detail in checks.items())
