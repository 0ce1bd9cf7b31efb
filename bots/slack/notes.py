"""Notes Parley posts in a Slack conversation outside any turn (what a restart found there)."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.errors import explain
from bots.slack.mentions import without_pings
from bots.slack.reply import MESSAGE_LIMIT
from bots.slack.router import DM_TOP_LEVEL
from core.errors import ParleyError
from core.types import ConversationKey


async def post_note(
    client: AsyncWebClient, key: ConversationKey, text: str, *, bot: str, token_var: str
) -> None:
    """One message where the conversation's replies go: its thread, or a DM's top level
    (the conversation an app on the assistant pane holds there); raises ParleyError when
    Slack refuses it or cannot be reached."""
    # The agent view and channels key each conversation by its thread's ts, as a reply does.
    thread_ts = None if key.thread == DM_TOP_LEVEL else key.thread
    try:
        await client.chat_postMessage(
            channel=key.channel,
            thread_ts=thread_ts,
            markdown_text=without_pings(text[:MESSAGE_LIMIT]),
        )
    except SlackApiError as error:
        where = f"channel {key.channel}"
        raise ParleyError(explain(error, bot=bot, token_var=token_var, where=where)) from error
    except (aiohttp.ClientError, TimeoutError) as error:
        # Not retried: a post whose answer was lost may have landed, and a note twice is worse
        # than a note missing (the log says so).
        raise ParleyError(f"slack bot {bot}: Slack did not answer the post in {key}") from error
