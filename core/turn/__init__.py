"""One turn, top to bottom: receive (store the message once), prepare, answer, record."""

from core.turn.state import NoObserver, Turn, TurnObserver, TurnReport

__all__ = ["NoObserver", "Turn", "TurnObserver", "TurnReport"]
