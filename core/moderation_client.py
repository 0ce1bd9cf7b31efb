"""Asks an OpenAI-style POST /moderations endpoint; the second of core's two openai modules."""

from __future__ import annotations

from dataclasses import dataclass

import httpx2
import openai

from core.errors import NoModerationEndpoint
from core.llm import translate_error
from core.model_http import HttpStatusError

_NO_KEY = "not-needed"
_TRANSLATABLE = (openai.OpenAIError, httpx2.HTTPError)
# A 404 with this code is a wrong model name, not a server without the endpoint.
_UNKNOWN_MODEL = "model_not_found"


@dataclass(frozen=True, slots=True)
class Verdict:
    flagged: bool
    categories: tuple[str, ...]  # the API's names ("self-harm/intent"), only those flagged


class ModerationEndpoint:
    """One provider's moderation endpoint, with no retries: a check that fails is skipped."""

    def __init__(self, *, base_url: str | None, api_key: str | None, timeout: float) -> None:
        self._secret = api_key
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or _NO_KEY,
            timeout=openai.Timeout(timeout),
            max_retries=0,
        )

    async def check(self, model: str, text: str) -> Verdict:
        """The verdict on `text`; raises NoModerationEndpoint on a 404, a ModelError otherwise."""
        try:
            response = await self._client.moderations.create(model=model, input=text)
        except openai.NotFoundError as exc:
            error = translate_error(_as_http(exc), secret=self._secret)
            if exc.code == _UNKNOWN_MODEL:
                raise error from exc
            raise NoModerationEndpoint(str(error)) from exc
        except _TRANSLATABLE as exc:
            raise translate_error(_as_http(exc), secret=self._secret) from exc
        flagged = False
        categories: list[str] = []
        for result in response.results:
            flagged = flagged or result.flagged
            named = result.categories.model_dump(by_alias=True)
            categories.extend(name for name, hit in named.items() if hit is True)
        return Verdict(flagged, tuple(dict.fromkeys(categories)))

    async def close(self) -> None:
        await self._client.close()


def _as_http(exc: Exception) -> BaseException:
    """The SDK's failure in the terms core.llm's translate_error reads (chat calls no longer
    go through the SDK), so a refused check is named as a refused chat call is."""
    if isinstance(exc, openai.APITimeoutError):
        return TimeoutError(str(exc))
    if isinstance(exc, openai.APIStatusError):
        response = exc.response
        return HttpStatusError(response.status_code, dict(response.headers), response.text)
    return exc
