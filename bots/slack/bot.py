"""One Slack bot: bolt's AsyncApp over Socket Mode (default) or HTTP, wired to the engine."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bots.connect import keep_connecting
from bots.slack.config import SlackBotConfig
from bots.slack.directory import Directory
from bots.slack.errors import error_code, explain
from bots.slack.feedback import ACTION_ID as FEEDBACK_ACTION
from bots.slack.http_server import CappedSite, body_deadline, refuse_garbled_requests
from bots.slack.lookups import BotIdentity
from bots.slack.notes import post_note
from bots.slack.reply import workspace_edit_budget
from bots.slack.router import SlackEventRouter
from bots.slack.stream import workspace_append_budget
from bots.tasks import Shutdown, TurnTasks
from core.config import BotConfig
from core.errors import ParleyError, PlatformUnreachable
from core.metrics import ApiCalls, ignore_api_calls
from core.types import ConversationKey, Conversations

log = logging.getLogger(__name__)

SLACK_API = "https://slack.com/api/"
# What reaching Slack at start-up raises while the network or Slack is down (a refused or
# reset connection, DNS, a timeout, a 5xx or 429 after the client's own retries). Any other
# answer (invalid_auth, a missing scope) becomes a ParleyError naming the fix, not retried.
UNREACHABLE: tuple[type[BaseException], ...] = (OSError, aiohttp.ClientError, PlatformUnreachable)


class SlackBot:
    """Serves one Slack bot until cancelled; `parley run` runs one per bot entry."""

    def __init__(
        self,
        config: BotConfig,
        engine: Conversations,
        *,
        api_calls: ApiCalls = ignore_api_calls,
        shutdown: Shutdown | None = None,
    ) -> None:
        if not isinstance(config, SlackBotConfig):
            raise TypeError(f"{config.name} is not a Slack bot")
        self._name = config.name
        self._engine = engine
        self._tasks = TurnTasks(shutdown)
        # The bot's own: one app's replies share each workspace's chat.update limit.
        self._edits = workspace_edit_budget()
        self._appends = workspace_append_budget()
        self._api_calls = api_calls
        self._socket: AsyncSocketModeHandler | None = None
        self._client: AsyncWebClient | None = None  # while serving: its session is open then
        self.http_port: int | None = None  # the bound port in HTTP mode, once started

    @property
    def connected(self) -> bool:
        """Socket Mode: the WebSocket to Slack is open now; HTTP mode: the server listens."""
        if self._socket is not None:
            client = self._socket.client
            session = client.current_session
            return not client.closed and session is not None and not session.closed
        return self.http_port is not None

    async def notify(self, key: ConversationKey, text: str) -> None:
        client = self._client
        if client is None:
            raise ParleyError(f"slack bot {self._name} is not connected")
        config = self._config()
        await post_note(client, key, text, bot=self._name, token_var=config.bot_token.variable)

    def _config(self) -> SlackBotConfig:
        # Looked up per event so a reload's access lists and prompts apply at once.
        config = self._engine.bot(self._name)
        assert isinstance(config, SlackBotConfig)
        return config

    async def run(self) -> None:
        await keep_connecting(f"{self._name} (slack)", self._serve, UNREACHABLE)

    async def _serve(self) -> None:
        config = self._config()
        token = config.bot_token.reveal()
        # One session for every Web API call: without it slack_sdk opens a new connection
        # (a TCP and TLS handshake with Slack) for each post and each streaming edit.
        async with aiohttp.ClientSession() as api, aiohttp.ClientSession() as files:
            client = _web_client(token, config.api_base_url, self._api_calls, api)
            identity = await self._check_token(client, config)
            app = self._app(
                config,
                client,
                AuthorizeResult.from_auth_test_response(
                    bot_token=token, auth_test_response=identity
                ),
                files,
            )
            self._client = client
            try:
                if config.app_token is not None:
                    await self._serve_socket_mode(app, config.app_token.reveal())
                else:
                    await self._serve_http(app, config)
            finally:
                # Before the sessions close: running replies still post their last words.
                await self._tasks.drain()
                self._client = None

    async def _check_token(
        self, client: AsyncWebClient, config: SlackBotConfig
    ) -> AsyncSlackResponse:
        try:
            identity = await client.auth_test()
        except SlackApiError as error:
            line = explain(error, bot=self._name, token_var=config.bot_token.variable)
            if _passing(error):
                raise PlatformUnreachable(line) from error
            raise ParleyError(line) from error
        log.info(
            "slack bot %s connected to %s as %s",
            self._name,
            identity.get("team"),
            identity.get("user"),
        )
        return identity

    def _app(
        self,
        config: SlackBotConfig,
        client: AsyncWebClient,
        identity: AuthorizeResult,
        files: aiohttp.ClientSession,
    ) -> AsyncApp:
        secret = config.signing_secret.reveal() if config.signing_secret is not None else None

        async def authorize() -> AuthorizeResult:
            # The start-up auth.test already said who we are; bolt would ask again.
            return identity

        app = AsyncApp(
            client=client,  # carries the token and the configured API base URL
            authorize=authorize,
            signing_secret=secret or "",
            # Socket Mode frames are authenticated by the connection itself.
            request_verification_enabled=secret is not None,
            name=f"parley-{self._name}",
        )
        router = SlackEventRouter(
            bot=self._config,
            engine=self._engine,
            client=client,
            directory=Directory(client),
            files=files,
            token=str(identity.bot_token),
            tasks=self._tasks,
            edits=self._edits,
            appends=self._appends,
        )
        _listen(app, router)
        return app

    async def _serve_socket_mode(self, app: AsyncApp, app_token: str) -> None:
        handler = AsyncSocketModeHandler(app, app_token)
        try:
            await handler.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it untyped
        except SlackApiError as error:  # apps.connections.open
            line = f"slack bot {self._name}: apps.connections.open: {error_code(error)}"
            if _passing(error):
                raise PlatformUnreachable(line) from error
            raise ParleyError(f"{line}: check the app token (app_token)") from error
        self._socket = handler
        log.info("slack bot %s listening over Socket Mode", self._name)
        try:
            await asyncio.Event().wait()
        finally:
            self._socket = None
            await handler.close_async()  # type: ignore[no-untyped-call]  # bolt leaves it untyped

    async def _serve_http(self, app: AsyncApp, config: SlackBotConfig) -> None:
        server = AsyncSlackAppServer(port=config.http.port, path=config.http.path, app=app)
        server.web_app.middlewares.append(body_deadline(config.http.body_timeout_seconds))
        server.web_app.middlewares.append(refuse_garbled_requests)
        # aiohttp's keep-alive timer runs from the moment a connection opens until a request's
        # headers are in, and again between requests: it is the header timeout.
        runner = web.AppRunner(
            server.web_app, access_log=None, keepalive_timeout=config.http.header_timeout_seconds
        )
        await runner.setup()
        site = CappedSite(runner, config.http, bot=self._name)
        await site.start()
        self.http_port = _bound_port(runner)
        log.info(
            "slack bot %s serving events on http://%s:%s%s",
            self._name,
            config.http.host,
            self.http_port,
            config.http.path,
        )
        try:
            await asyncio.Event().wait()
        finally:
            self.http_port = None
            await runner.cleanup()


def _listen(app: AsyncApp, router: SlackEventRouter) -> None:
    """Each listener only translates and starts a turn task: bolt has acknowledged the
    event already, and the turn belongs to this bot, which drains it on shutdown."""

    @app.event("app_mention")
    async def mentioned(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        router.on_mention(event, _team(body, context), _me(context))

    @app.event("message")
    async def message(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        router.on_message(event, _team(body, context), _me(context))

    @app.event("assistant_thread_started")
    async def assistant_started(event: dict[str, Any]) -> None:
        await router.on_assistant_thread_started(event)

    @app.action(FEEDBACK_ACTION)
    async def rated(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()  # first: Slack wants it within 3 s; nothing is posted for a click
        router.on_feedback(body, action)

    @app.error
    async def failed(error: Exception, body: dict[str, Any]) -> None:
        # One line an admin can act on; a malformed event must not cost a traceback each.
        event = body.get("event") if isinstance(body, dict) else None
        kind = event.get("type") if isinstance(event, dict) else None
        log.error("slack: could not handle a %s event: %s: %s", kind, type(error).__name__, error)

    @app.event("assistant_thread_context_changed")
    async def pane_context_changed(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await router.on_context_changed(event, body, _team(body, context))

    @app.event("app_context_changed")
    async def context_changed(
        event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await router.on_context_changed(event, body, _team(body, context))

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        await router.on_home_opened(event)


def _passing(error: SlackApiError) -> bool:
    """Slack is down or busy, not refusing this bot: a 5xx or a 429 at start-up."""
    status = int(error.response.status_code)
    return status >= 500 or status == 429


def _team(body: dict[str, Any], context: AsyncBoltContext) -> str:
    return str(body.get("team_id") or context.team_id or "")


def _me(context: AsyncBoltContext) -> BotIdentity:
    return BotIdentity(user_id=str(context.bot_user_id or ""), bot_id=str(context.bot_id or ""))


class _CountingHandler(AsyncRetryHandler):
    """Never retries: slack_sdk shows every response to its retry handlers, so the first one
    sees each HTTP request the client makes (retries included) and counts it."""

    def __init__(self, record: ApiCalls) -> None:
        super().__init__(max_retry_count=0)
        self._record = record

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None:
            self._record(response.status_code)
        return False


class _GatewayErrorRetryHandler(AsyncServerErrorRetryHandler):
    """slack_sdk retries 500 and 503 only; a 502 or 504 from Slack's edge is as passing, and
    left alone it cut a reply short (its final edit) or lost it (its first post)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in (500, 502, 503, 504)


# Calls that add to Slack's messages: after a 5xx or a dropped connection one may have been
# carried out, and a blind retry showed the words twice.
NOT_RETRIED = ("/chat.postMessage", "/chat.startStream", "/chat.appendStream", "/chat.stopStream")


class _NotForPosts(AsyncRetryHandler):
    """Leaves posts and stream calls alone (NOT_RETRIED): the reply looks for a lost post
    first (bots/slack/reply.py) and replaces a stream's text by chat.update
    (bots/slack/stream.py). Editing a message again is harmless, so other calls retry."""

    def __init__(self, inner: AsyncRetryHandler) -> None:
        super().__init__(max_retry_count=inner.max_retry_count)
        self._inner = inner

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.endswith(NOT_RETRIED):
            return False
        return await self._inner.can_retry_async(
            state=state, request=request, response=response, error=error
        )

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        await self._inner.prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


def _web_client(
    token: str, base_url: str | None, api_calls: ApiCalls, session: aiohttp.ClientSession
) -> AsyncWebClient:
    # Rate-limit and 5xx retries are off by default in slack_sdk; a busy workspace needs them.
    # A 429 was refused, not carried out, so even a post may be tried again after one.
    handlers = [
        _CountingHandler(api_calls),
        *(_NotForPosts(handler) for handler in async_default_handlers()),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        _NotForPosts(_GatewayErrorRetryHandler(max_retry_count=2)),
    ]
    return AsyncWebClient(
        token=token, base_url=base_url or SLACK_API, retry_handlers=handlers, session=session
    )


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise ParleyError("the Slack events server did not bind a port")
