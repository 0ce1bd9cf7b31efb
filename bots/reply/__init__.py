"""One streaming reply for every chat platform; each platform supplies a small binding."""

from bots.reply.binding import Pacing, Refusal, ReplyBinding, ReplyStyle
from bots.reply.errors import DeliveryError
from bots.reply.stream import StreamedReply

__all__ = ["DeliveryError", "Pacing", "Refusal", "ReplyBinding", "ReplyStyle", "StreamedReply"]
