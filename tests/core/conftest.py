"""Fixtures shared by the core tests."""

from tests.fakes.fixtures import fake_openai, no_proxy

__all__ = ["fake_openai", "no_proxy"]
