"""Slack API failures turned into one log line that tells the admin what to fix."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bots.reply.errors import DeliveryError

FIXES = {
    "not_in_channel": "invite the bot to {where} (/invite @the-bot's-name in that channel)",
    "channel_not_found": "the bot cannot see this channel: invite it, or check the channel id",
    "missing_scope": "add the scope {needed} to the Slack app (OAuth & Permissions), "
    "then reinstall it to the workspace",
    "invalid_auth": "the bot token is wrong or revoked: set {token_var} to the app's "
    "Bot User OAuth Token (xoxb-…)",
    "not_authed": "no bot token was sent: set {token_var}",
    "account_inactive": "the app was uninstalled or its token revoked: reinstall the app",
    "token_revoked": "the token was revoked: reinstall the app and update {token_var}",
    "msg_too_long": "a message exceeded Slack's limit (a bug: please report it)",
    "ratelimited": "Slack is rate-limiting the bot; it retried and gave up",
}


class SlackDeliveryError(DeliveryError):
    user_message = "I couldn't post my reply in Slack; an admin should check Parley's log."


def error_code(error: SlackApiError) -> str:
    return str(error.response.get("error", "unknown_error"))


def explain(error: SlackApiError, *, bot: str, token_var: str, where: str = "the channel") -> str:
    """One line for the log: what Slack said, where, and what to do about it."""
    code = error_code(error)
    needed = str(error.response.get("needed", "the missing scope"))
    fix = FIXES.get(code, "see https://api.slack.com/methods for this error")
    details = fix.format(bot=bot, needed=needed, token_var=token_var, where=where)
    return f"slack bot {bot} in {where}: {code}: {details}"
