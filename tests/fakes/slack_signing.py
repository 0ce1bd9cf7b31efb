"""Signs request bodies the way Slack does, for tests that POST events to an HTTP-mode app."""

from __future__ import annotations

import hashlib
import hmac
import time


def signed_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """X-Slack-Signature is "v0=" + hex HMAC-SHA256 over b"v0:{timestamp}:" + body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
