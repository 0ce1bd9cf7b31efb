"""Request parsing, token checks and injected faults for the fake Slack's Web API."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from aiohttp import web

from tests.fakes.slack_api import SCOPES, Body, Params
from tests.fakes.slack_state import SlackIdentity

_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


@dataclass
class Fault:
    """How the next `times` calls of one method fail."""

    error: str | None
    status: int
    retry_after: float | None
    times: int
    drop: bool = False  # no answer at all: the connection is closed under the request
    # The call is carried out first and only its answer is lost (a 5xx or a dropped
    # connection after Slack stored the message): what makes a blind retry post twice.
    after: bool = False


class Faults:
    """Queued faults per method, consumed in the order they were added."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[Fault]] = {}

    def add(self, method: str, fault: Fault) -> None:
        self._queued.setdefault(method, deque()).append(fault)

    def take(self, method: str) -> Fault | None:
        queued = self._queued.get(method)
        if not queued:
            return None
        fault = queued[0]
        fault.times -= 1
        if fault.times <= 0:
            queued.popleft()
        return fault


def fault_response(request: web.Request, method: str, fault: Fault) -> web.Response:
    if fault.drop:
        return dropped(request)
    default = "ratelimited" if fault.status == 429 else "fatal_error"
    error = fault.error or ("internal_error" if fault.status >= 500 else default)
    body: Body = {"ok": False, "error": error}
    if error == "missing_scope":
        body.update(needed=SCOPES.get(method, "chat:write"), provided="app_mentions:read")
    headers = {}
    if fault.retry_after is not None:
        # Slack sends whole seconds; slack_sdk parses the header with int().
        headers["Retry-After"] = str(math.ceil(fault.retry_after))
    return web.json_response(body, status=fault.status, headers=headers)


def dropped(request: web.Request) -> web.Response:
    """Closes the connection without an answer: the client sees the server disconnect."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)  # never sent: the connection is gone


async def request_params(request: web.Request) -> Params:
    """Query string, then form or JSON body: slack_sdk sends POST `params` in the query."""
    params: Params = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params


def bearer(request: web.Request) -> str | None:
    authorization = request.headers.get("Authorization", "")
    return authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None


def auth_error(identity: SlackIdentity, method: str, token: str | None) -> str | None:
    """The error Slack gives for a missing, unknown or wrong-kind token; None when it fits."""
    wanted = identity.app_token if method in _APP_TOKEN_METHODS else identity.bot_token
    if token is None:
        return "not_authed"
    if token == wanted:
        return None
    if token in (identity.app_token, identity.bot_token):
        return "not_allowed_token_type"
    return "invalid_auth"
