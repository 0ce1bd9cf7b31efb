"""A reply the platform did not take, whatever the reason: refused, failing or unreachable."""

from __future__ import annotations

import aiohttp

from core.errors import ParleyError

# What a dropped or reset connection raises from slack_sdk's and discord.py's calls: these
# libraries let aiohttp's and the socket's own errors through untranslated.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError, OSError)

CONNECTION_LOST = (
    "I lost the connection while posting my reply, so it may be cut short. Please try again."
)


class DeliveryError(ParleyError):
    """The platform did not show what the reply posted or edited.

    `transient`: the platform's trouble (a 5xx, a dropped connection), worth another try.
    Each platform names its own subclass, with the words its users see.
    """

    user_message = "I couldn't post my reply here; an admin should check Parley's log."

    def __init__(
        self, detail: str, *, transient: bool = False, user_message: str | None = None
    ) -> None:
        super().__init__(detail, user_message=user_message)
        self.transient = transient
