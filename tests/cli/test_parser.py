"""The parser's copies of core's names, and every command's handler, stay true."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cli.health_target import DEFAULT_TARGET, HealthTarget, plain_target
from cli.main import handler_of
from cli.parser import FEEDBACK_GROUPS, KEY_FORM, USAGE_GROUPS, build_parser
from core.config import MonitoringConfig
from core.feedback import GROUPS as FEEDBACK_CORE_GROUPS
from core.transcripts import KEY_FORM as CORE_KEY_FORM
from core.usage import GROUPS


def test_the_parser_copies_of_core_names_are_equal_to_core() -> None:
    assert tuple(sorted(GROUPS)) == USAGE_GROUPS
    assert KEY_FORM == CORE_KEY_FORM
    assert tuple(sorted(FEEDBACK_CORE_GROUPS)) == FEEDBACK_GROUPS


def _handlers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, str]:
    """Every command's handler, a command with commands of its own (`store copy`) included."""
    (commands,) = [
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ]
    handlers: dict[str, str] = {}
    for name, sub in commands.choices.items():
        if sub.get_default("handler") is None:
            handlers.update(_handlers(sub, f"{prefix}{name} "))
        else:
            handlers[prefix + name] = sub.get_default("handler")
    return handlers


def test_every_command_names_a_handler_that_exists() -> None:
    handlers = _handlers(build_parser())
    assert set(handlers) >= {"chat", "check", "run", "health", "usage", "forget", "store copy"}
    for name, handler in handlers.items():
        assert callable(handler_of(handler)), name


def test_health_defaults_are_monitoring_configs() -> None:
    defaults = MonitoringConfig()
    assert HealthTarget(defaults.enabled, defaults.host, defaults.port) == DEFAULT_TARGET


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("", DEFAULT_TARGET),
        ("monitoring: {port: 9500}\n", HealthTarget(True, "127.0.0.1", 9500)),
        ("monitoring: {host: '::', enabled: false}\n", HealthTarget(False, "::", 9464)),
        ("monitoring: {port: '${PORT}'}\n", None),  # a reference: the full loader resolves it
        ("monitoring: {port: 70000}\n", None),
        ("monitoring: {port: true}\n", None),
        ("monitoring: {prot: 9500}\n", None),  # a typo the full loader names with its line
        ("monitoring:\n", None),
        ("monitoring: [9500]\n", None),
    ],
)
def test_plain_monitoring_sections_are_read_and_others_left_to_the_loader(
    tmp_path: Path, section: str, expected: HealthTarget | None
) -> None:
    path = tmp_path / "bots.yaml"
    path.write_text("personas: {}\n" + section)
    assert plain_target(path) == expected


def test_an_unreadable_or_odd_file_is_left_to_the_loader(tmp_path: Path) -> None:
    assert plain_target(tmp_path / "missing.yaml") is None
    odd = tmp_path / "odd.yaml"
    odd.write_text("- a list\n")
    assert plain_target(odd) is None
    broken = tmp_path / "broken.yaml"
    broken.write_text("monitoring: {port: [\n")
    assert plain_target(broken) is None
