"""A fake OpenAI-compatible server on 127.0.0.1 speaking the real Chat Completions wire format."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.loopback import Fake, LoopbackServer
from tests.fakes.openai_tools import (
    FakeCall,
    call_ids,
    finish_reason,
    tool_call_deltas,
    tool_request_problem,
    whole_tool_calls,
)

Body = dict[str, object]
_MISSING_KEY = "You didn't provide an API key. Send it as 'Authorization: Bearer KEY'."


@dataclass(frozen=True)
class Script:
    """How the fake answers one request."""

    chunks: Sequence[str] = ("Hello", " world")
    usage: tuple[int, int, int] | None = (10, 2, 0)  # prompt, completion, cached; None: omitted
    status: int = 200
    error_code: str | None = None
    error_message: str = "The fake was told to fail this request."
    error_type: str | None = None  # None: what OpenAI uses for `status`
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_before_headers: float = 0.0
    delay_before_first_chunk: float = 0.0
    delay_between_chunks: float = 0.0
    cut_after: int | None = None  # abort the TCP connection after this many content chunks
    stream_error: str | None = None  # after the chunks, an error event instead of the end
    release: asyncio.Event | None = None  # answer only once the test sets it
    # Each chunk after the first waits for the test to set the event for it: Parley reads
    # what has arrived in one go, so chunks a test wants seen apart must arrive apart.
    release_chunks: Sequence[asyncio.Event] = ()
    role_sent: asyncio.Event | None = None  # set once the opening role chunk is written
    release_first_text: asyncio.Event | None = None  # the first text waits for it
    # After the finish_reason chunk: wait for the test to set this before the usage chunk
    # and [DONE], or abort the connection there instead (`cut_after_finish`).
    release_usage: asyncio.Event | None = None
    cut_after_finish: bool = False
    # Hostile servers: a 200 with this body instead of a stream (an error object, an HTML
    # page), a non-streamed completion although stream: true was asked, or these exact
    # data payloads (malformed chunks, absurd usage) followed by [DONE].
    body: str | None = None
    content_type: str = "application/json"
    ignore_stream: bool = False
    events: Sequence[str] | None = None
    # After the chunks, never end: every `endless_every` seconds send a keep-alive comment
    # ("keepalive"), a content-less chunk ("empty") or one more word ("words"); or send one
    # data line `huge_line` characters long with no newline ("huge_line").
    endless: str | None = None
    endless_every: float = 0.5
    endless_text: str = "word "
    endless_after_finish: bool = False  # the endless part comes after the finish_reason
    huge_line: int = 5_000_000
    # After the text: ask for these tools (tests/fakes/openai_tools.py streams them as the
    # API does) and finish with "tool_calls". `tool_call_ids`: the ids they go out with,
    # "" for none (None: fresh ones). `cut_after_tool_pieces`: abort the connection after
    # that many tool call chunks. `finish_reason`: another reason to finish with.
    tool_calls: Sequence[FakeCall] = ()
    tool_call_ids: Sequence[str] | None = None
    argument_piece_chars: int = 4
    cut_after_tool_pieces: int | None = None
    finish_reason: str | None = None


def echo_last_user(body: Body) -> Script:
    """A `default` that answers with the last user message's text, for end-to-end tests."""
    messages = body.get("messages")
    text = ""
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                text = content if isinstance(content, str) else json.dumps(content)
    return Script(chunks=(f"echo: {text}",))


def _error_body(
    status: int, message: str, code: str | None, kind: str | None, param: str | None = None
) -> Body:
    if kind is None:
        kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _usage_body(usage: tuple[int, int, int]) -> Body:
    prompt, completion, cached = usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


def moderation_texts(body: Body) -> list[str]:
    """The texts of a /moderations body: a string, a list of them, or typed parts."""
    given = body.get("input")
    items = given if isinstance(given, list) else [given]
    texts = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("text")
        texts.append(item if isinstance(item, str) else "")
    return texts


def moderation_result(flagged: Sequence[str]) -> Body:
    """One entry of `results`, as omni-moderation answers it."""
    return {
        "flagged": bool(flagged),
        "categories": {name: name in flagged for name in MODERATION_CATEGORIES},
        "category_scores": {
            name: 0.97 if name in flagged else 0.0001 for name in MODERATION_CATEGORIES
        },
        "category_applied_input_types": {
            name: ["text"] if name in flagged else [] for name in MODERATION_CATEGORIES
        },
    }


class _Reply:
    """The ids and fields every chunk or completion of one reply shares."""

    def __init__(self, model: object) -> None:
        self.id = f"chatcmpl-fake{time.monotonic_ns()}"
        self.created = int(time.time())
        self.model = model if isinstance(model, str) else "fake-model"

    def chunk(self, choices: list[Body], usage: Body | None) -> bytes:
        payload = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": choices,
            "usage": usage,
        }
        # Compact separators, as OpenAI sends them.
        data = json.dumps(payload, separators=(",", ":"))
        return f"data: {data}\n\n".encode()

    def delta(self, delta: Body, finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self.chunk([choice], None)

    def completion(self, script: Script) -> Body:
        text = "".join(script.chunks)
        message: Body = {"role": "assistant", "content": text or None, "refusal": None}
        if script.tool_calls:
            message["tool_calls"] = whole_tool_calls(script)
        else:
            message["content"] = text
        reason = finish_reason(script)
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
        body: Body = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [choice],
        }
        if script.usage is not None:
            body["usage"] = _usage_body(script.usage)
        return body


class FakeOpenAI(Fake):
    """Serves /v1/chat/completions and /v1/models from scripts the test enqueues.

    `requests` holds every chat completion body received, `authorizations` every
    Authorization header (empty string when missing), both in arrival order.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Sequence[str] = ("fake-model",),
        default: Script | Callable[[Body], Script] = Script(),
        port: int = 0,  # 0: any free port; a fixed one plays a provider coming back up
    ) -> None:
        self.api_key = api_key
        self.models = tuple(models)
        self.default = default
        self.requests: list[Body] = []
        self.authorizations: list[str] = []
        # Per streamed request, monotonic times: arrived, first text written, stream ended.
        self.stream_times: list[tuple[float, float, float]] = []
        # /v1/moderations: a text containing a key of `flag_words` is flagged with its
        # categories; `moderation_status` 404 plays a server without the endpoint.
        self.flag_words: dict[str, tuple[str, ...]] = {}
        self.moderated: list[str] = []  # every text sent to be checked, also when refused
        self.moderation_status = 200
        self.moderation_delay = 0.0
        self.endless_writes = 0  # writes of endless scripts, to see a stream go on
        self._scripts: deque[Script] = deque()
        self._server = LoopbackServer()
        self._port: int | None = None
        self._wanted_port = port

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://127.0.0.1:{self._port}/v1"

    def enqueue(self, *scripts: Script) -> None:
        """Scripts answer the next requests, one each, before `default` is used again."""
        self._scripts.extend(scripts)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_post("/v1/moderations", self._moderations)
        self._port = await self._server.serve(app, self._wanted_port)

    async def stop(self) -> None:
        await self._server.close()
        self._port = None

    def _refuse(self, request: web.Request) -> web.Response | None:
        """Records the Authorization header; an OpenAI-shaped 401 when it is wrong."""
        authorization = request.headers.get("Authorization", "")
        self.authorizations.append(authorization)
        if not authorization.startswith("Bearer "):
            body = _error_body(401, _MISSING_KEY, None, None)
        elif self.api_key is not None and authorization != f"Bearer {self.api_key}":
            body = _error_body(401, "Incorrect API key provided.", "invalid_api_key", None)
        else:
            return None
        return web.json_response(body, status=401)

    def _next_script(self, body: Body) -> Script:
        if self._scripts:
            return self._scripts.popleft()
        return self.default(body) if callable(self.default) else self.default

    async def _list_models(self, request: web.Request) -> web.Response:
        refusal = self._refuse(request)
        if refusal is not None:
            return refusal
        data = [
            {"id": model, "object": "model", "created": 0, "owned_by": "parley-fake"}
            for model in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refuse(request)
        if refusal is not None:
            return refusal
        body = await request.json()
        if not isinstance(body, dict):
            error = _error_body(400, "The body must be a JSON object.", None, None)
            return web.json_response(error, status=400)
        self.requests.append(body)
        problem = tool_request_problem(body)
        if problem is not None:
            message, param = problem
            error = _error_body(400, message, None, None, param)
            return web.json_response(error, status=400)
        arrived = time.monotonic()
        script = self._next_script(body)
        if script.release is not None:
            await script.release.wait()
        await asyncio.sleep(script.delay_before_headers)
        reply = _Reply(body.get("model"))
        if script.status != 200:
            error = _error_body(
                script.status, script.error_message, script.error_code, script.error_type
            )
            return web.json_response(error, status=script.status, headers=script.headers)
        if script.body is not None:
            return web.Response(
                text=script.body, content_type=script.content_type, headers=script.headers
            )
        if body.get("stream") is not True or script.ignore_stream:
            return web.json_response(reply.completion(script), headers=script.headers)
        return await self._stream(request, body, script, reply, arrived)

    async def _stream(
        self, request: web.Request, body: Body, script: Script, reply: _Reply, arrived: float
    ) -> web.StreamResponse:
        headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        response = web.StreamResponse(headers={**headers, **script.headers})
        await response.prepare(request)
        await asyncio.sleep(script.delay_before_first_chunk)
        await response.write(reply.delta({"role": "assistant", "content": "", "refusal": None}))
        if script.role_sent is not None:
            script.role_sent.set()
        if script.release_first_text is not None:
            await script.release_first_text.wait()
        if script.events is not None:
            for event in script.events:
                await response.write(f"data: {event}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            return response
        chunks = script.chunks if script.cut_after is None else script.chunks[: script.cut_after]
        first_text = 0.0
        for index, text in enumerate(chunks):
            if index and script.delay_between_chunks:
                await asyncio.sleep(script.delay_between_chunks)
            if 0 < index <= len(script.release_chunks):
                await script.release_chunks[index - 1].wait()
            await response.write(reply.delta({"content": text}))
            first_text = first_text or time.monotonic()
        if script.tool_calls and not await self._stream_tool_calls(
            request, response, script, reply
        ):
            return response
        if script.endless is not None and not script.endless_after_finish:
            return await self._endless(response, script, reply)
        if script.stream_error is not None:
            # What OpenAI sends when a reply fails after the headers: an error event.
            error = {"error": {"message": script.stream_error, "type": "server_error"}}
            await response.write(f"data: {json.dumps(error)}\n\n".encode())
            return response
        if script.cut_after is not None:
            # A reset rather than a clean end: what a dropped connection looks like.
            if request.transport is not None:
                request.transport.abort()
            return response
        await response.write(reply.delta({}, finish_reason=finish_reason(script)))
        if script.endless is not None:
            return await self._endless(response, script, reply)
        if script.cut_after_finish and request.transport is not None:
            request.transport.abort()
            return response
        if script.release_usage is not None:
            await script.release_usage.wait()
        options = body.get("stream_options")
        if script.usage is not None and isinstance(options, dict) and options.get("include_usage"):
            await response.write(reply.chunk([], _usage_body(script.usage)))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        self.stream_times.append((arrived, first_text, time.monotonic()))
        return response

    async def _stream_tool_calls(
        self, request: web.Request, response: web.StreamResponse, script: Script, reply: _Reply
    ) -> bool:
        """Writes the script's tool call chunks; False if it cut the connection instead."""
        deltas = tool_call_deltas(script, call_ids(script))
        cut = script.cut_after_tool_pieces
        for delta in deltas if cut is None else deltas[:cut]:
            await response.write(reply.delta(delta))
        if cut is not None and request.transport is not None:
            request.transport.abort()
            return False
        return True

    async def _endless(
        self, response: web.StreamResponse, script: Script, reply: _Reply
    ) -> web.StreamResponse:
        """A provider that stays alive without ever finishing, until the client hangs up."""
        with contextlib.suppress(ConnectionError):
            if script.endless == "huge_line":
                await response.write(b"data: " + b"x" * script.huge_line)
            while True:
                self.endless_writes += 1
                if script.endless == "keepalive":
                    await response.write(b": keep-alive\n\n")
                elif script.endless == "empty":
                    await response.write(reply.delta({}))
                elif script.endless == "words":
                    await response.write(reply.delta({"content": script.endless_text}))
                await asyncio.sleep(script.endless_every)
        return response

    async def _moderations(self, request: web.Request) -> web.Response:
        refusal = self._refuse(request)
        if refusal is not None:
            return refusal
        body = await request.json()
        texts = moderation_texts(body)
        self.moderated.extend(texts)
        await asyncio.sleep(self.moderation_delay)
        if self.moderation_status == 404:
            # What aiohttp, Ollama and most servers say for a path they do not serve.
            return web.Response(status=404, text="404: Not Found")
        if self.moderation_status != 200:
            error = _error_body(self.moderation_status, "moderation failed", None, None)
            return web.json_response(error, status=self.moderation_status)
        results = [
            moderation_result(
                [c for word, hits in self.flag_words.items() if word in text for c in hits]
            )
            for text in texts
        ]
        model = body.get("model") or "omni-moderation-latest"
        return web.json_response(
            {"id": f"modr-{time.monotonic_ns()}", "model": model, "results": results}
        )
