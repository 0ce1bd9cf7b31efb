"""Loads bots.yaml once into a frozen Config, or raises ConfigError listing every problem."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from core.config.checks import cross_check
from core.config.defaults import with_defaults
from core.config.document import Config, ConfigFile
from core.config.interpolate import interpolate
from core.config.messages import shown, translate
from core.config.paths import LineMap
from core.config.yaml_source import parse_yaml
from core.errors import ConfigError, ConfigIssue


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read, check and freeze the config at `path`; `env` defaults to the process environment."""
    env = os.environ if env is None else env
    file = str(path)
    parsed = parse_yaml(_read(path), file)
    if parsed.data is None:
        raise ConfigError(parsed.issues)
    if not isinstance(parsed.data, dict):
        message = (
            f"the file must be a mapping of sections (personas, bots...), not {shown(parsed.data)}"
        )
        raise ConfigError([ConfigIssue(file, None, "", message)])
    data, issues = with_defaults(parsed.data, env, parsed.lines, file)
    resolved = interpolate(data, env, parsed.lines, file)
    issues = [*parsed.issues, *issues, *resolved.issues]
    content = _validate(resolved.data, path, parsed.lines, issues)
    issues += cross_check(resolved.data, parsed.lines, file)
    if content is None or issues:
        raise ConfigError(sorted(issues, key=_by_line))
    fields = {name: getattr(content, name) for name in ConfigFile.model_fields}
    return Config(**fields, source=path, secrets=resolved.secrets)


def _validate(
    data: dict[str, object], path: Path, lines: LineMap, issues: list[ConfigIssue]
) -> ConfigFile | None:
    """The validated sections, or None after adding every problem to `issues`."""
    try:
        return ConfigFile.model_validate(data, context={"base_dir": path.parent.absolute()})
    except ValidationError as exc:
        reported = {issue.path for issue in issues}
        issues += translate(exc, ConfigFile, lines, str(path), reported)
        return None


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        message = "file not found"
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except OSError as exc:
        message = f"cannot read the file: {exc.strerror or exc}"
    raise ConfigError([ConfigIssue(str(path), None, "", message)])


def _by_line(issue: ConfigIssue) -> tuple[int, int]:
    return (0, issue.line) if issue.line is not None else (1, 0)
