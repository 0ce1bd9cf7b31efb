"""Error bodies, injected faults and request-body parsing for the fake Discord's REST API."""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

# Where the middleware leaves the parsed body for the route handlers.
BODY: web.RequestKey[Any] = web.RequestKey("body")
UPLOADS: web.RequestKey[list[Upload]] = web.RequestKey("uploads")

# Default messages and JSON error codes per status, as Discord words them.
_ERRORS: dict[int, tuple[str, int]] = {
    400: ("Invalid Form Body", 50035),
    401: ("401: Unauthorized", 0),
    403: ("Missing Permissions", 50013),
    404: ("404: Not Found", 0),
    405: ("405: Method Not Allowed", 0),
    500: ("500: Internal Server Error", 0),
    502: ("502: Bad Gateway", 0),
    503: ("503: Service Unavailable", 0),
}


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Discord's exact Content-Type: discord.py only parses "application/json", no charset."""
    headers = {**(headers or {}), "Content-Type": "application/json"}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers)


def error(
    status: int, message: str | None = None, code: int | None = None, **extra: Any
) -> web.Response:
    default_message, default_code = _ERRORS.get(status, (f"{status}: Error", 0))
    body = {"message": message or default_message, "code": default_code if code is None else code}
    return json_response({**body, **extra}, status=status)


def form_error(field: str, code: str, message: str) -> web.Response:
    """A 400 50035 with Discord's nested "errors" tree for one field."""
    errors = {field: {"_errors": [{"code": code, "message": message}]}}
    return error(400, "Invalid Form Body", 50035, errors=errors)


@dataclass
class Fault:
    """How the next `times` requests matching method and path prefix fail."""

    method: str
    path_prefix: str
    status: int
    retry_after: float | None
    via: bool
    global_: bool
    code: int | None
    message: str | None
    times: int
    drop: bool = False  # no answer at all: the connection is closed under the request
    # The request is carried out first and only its answer is lost (a 5xx or a dropped
    # connection after Discord stored the message): what makes a blind retry post twice.
    after: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and path.startswith(self.path_prefix)

    def response(self, request: web.Request) -> web.Response:
        if self.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never sent: the connection is gone
        if self.status != 429:
            return error(self.status, self.message, self.code)
        retry_after = 0.05 if self.retry_after is None else self.retry_after
        body: dict[str, Any] = {
            "message": self.message or "You are being rate limited.",
            "retry_after": retry_after,
            "global": self.global_,
        }
        if self.code is not None:
            body["code"] = self.code
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "fakebucket0000000000000000000000",
            "X-RateLimit-Scope": "global" if self.global_ else "user",
        }
        if self.global_:
            headers["X-RateLimit-Global"] = "true"
        if self.via:
            # Without Via, discord.py takes a 429 for a Cloudflare ban and raises at once.
            headers["Via"] = "1.1 google"
        return json_response(body, status=429, headers=headers)


class Faults:
    """Queued faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._queued: deque[Fault] = deque()

    def add(self, fault: Fault) -> None:
        self._queued.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self._queued:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self._queued.remove(fault)
                return fault
        return None


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request (files[n])."""

    field: str
    filename: str
    content_type: str
    data: bytes


async def read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    """JSON body, or payload_json plus files[n] parts of a multipart body (discord.py's uploads)."""
    if not request.can_read_body:
        return None, []
    if request.content_type != "multipart/form-data":
        raw = await request.read()
        return (json.loads(raw) if raw else None), []
    payload: Any = None
    uploads: list[Upload] = []
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        data = await part.read()
        if part.name == "payload_json":
            payload = json.loads(data)
        else:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            uploads.append(Upload(part.name or "", part.filename or "file", content_type, data))
    return payload, uploads
