"""Parley's version, as the installed package's metadata says."""

from __future__ import annotations

UNKNOWN_VERSION = "unknown"


def parley_version() -> str:
    """ "0.1.0", or "unknown" when Parley runs from source without being installed."""
    # Imported here: reading package metadata costs tens of milliseconds, paid only by the
    # commands that show the version.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("parley")
    except PackageNotFoundError:
        return UNKNOWN_VERSION
