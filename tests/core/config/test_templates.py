"""Prompt templates: known placeholders, literal braces and rendering."""

from __future__ import annotations

from core.config import PLACEHOLDERS, render_template, template_problems


def test_placeholders_are_the_documented_set() -> None:
    documented = {"bot_name", "workspace_name", "channel_name", "viewing_channel", "user_name"}
    assert documented | {"date", "time"} == PLACEHOLDERS


def test_render_fills_values_and_keeps_literal_braces() -> None:
    rendered = render_template("{bot_name} says {{hi}} to {user_name}", {"bot_name": "Parley"})

    assert rendered == "Parley says {hi} to "


def test_valid_template_has_no_problems() -> None:
    assert template_problems("I am {bot_name} in #{channel_name} on {date} at {time}.") == []


def test_unknown_placeholder_suggests_the_near_miss() -> None:
    [problem] = template_problems("hi {usr_name}")

    assert problem.startswith("unknown placeholder {usr_name} (did you mean {user_name}?); known:")


def test_format_specs_and_positional_fields_are_refused() -> None:
    assert template_problems("{date:%Y}")[0].startswith("placeholder {date} takes no format")
    assert template_problems("{}")[0].startswith("empty placeholder {}")


def test_malformed_braces_render_as_written() -> None:
    assert template_problems("oops }")[0].startswith("malformed braces")
    assert render_template("oops }", {}) == "oops }"
