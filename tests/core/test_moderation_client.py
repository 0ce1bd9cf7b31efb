"""The moderation endpoint's failures are the same Parley errors as a chat call's."""

from __future__ import annotations

import pytest

from core.errors import BadCredentials, ModelError, RateLimited
from core.moderation_client import ModerationEndpoint
from tests.fakes.openai_server import FakeOpenAI


@pytest.mark.parametrize(("status", "kind"), [(401, BadCredentials), (429, RateLimited)])
async def test_a_refused_check_is_named_like_a_refused_chat_call(
    fake_openai: FakeOpenAI, status: int, kind: type[ModelError]
) -> None:
    fake_openai.moderation_status = status
    endpoint = ModerationEndpoint(base_url=fake_openai.base_url, api_key="sk-x", timeout=5)
    try:
        with pytest.raises(kind):
            await endpoint.check("omni-moderation-latest", "hello")
    finally:
        await endpoint.close()
