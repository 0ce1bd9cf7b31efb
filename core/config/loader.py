"""Loads bots.yaml once into a frozen Config, or raises ConfigError listing every problem."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from core.config.bots import PlatformModels, secret_keys
from core.config.checks import cross_check
from core.config.defaults import with_defaults
from core.config.document import Config, ConfigFile, file_model
from core.config.interpolate import interpolate
from core.config.messages import shown, translate
from core.config.paths import LineMap
from core.config.yaml_limits import MAX_FILE_BYTES
from core.config.yaml_source import parse_yaml
from core.errors import ConfigError, ConfigFileMissing, ConfigIssue


def load_config(
    path: Path, env: Mapping[str, str] | None = None, *, platforms: PlatformModels
) -> Config:
    """Read, check and freeze the config at `path`; `env` defaults to the process environment.

    `platforms` maps each platform name to its bot model (the adapters own them, see
    bots.config_models); a bot is checked against the model its `platform` key names.
    """
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
    data, issues = with_defaults(parsed.data, parsed.lines, file)
    resolved = interpolate(data, env, parsed.lines, file, secret_keys(platforms))
    issues = [*parsed.issues, *issues, *resolved.issues]
    content = _validate(resolved.data, _Source(path, env, platforms), parsed.lines, issues)
    issues += cross_check(resolved.data, parsed.lines, file)
    if content is None or issues:
        raise ConfigError(sorted(issues, key=_by_line))
    fields = {name: getattr(content, name) for name in ConfigFile.model_fields}
    return Config(**fields, source=path, secrets=resolved.secrets)


@dataclass(frozen=True)
class _Source:
    path: Path
    env: Mapping[str, str]
    platforms: PlatformModels


def _validate(
    data: dict[str, object], source: _Source, lines: LineMap, issues: list[ConfigIssue]
) -> ConfigFile | None:
    """The validated sections, or None after adding every problem to `issues`."""
    model = file_model(source.platforms)
    # Models may read the context: `base_dir` resolves relative paths, `env` fills defaults
    # that come from the environment (a console bot's user name).
    context = {"base_dir": source.path.parent.absolute(), "env": source.env}
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        reported = {issue.path for issue in issues}
        names = tuple(source.platforms)
        issues += translate(exc, model, lines, str(source.path), reported, platforms=names)
        return None


def _read(path: Path) -> str:
    try:
        # Read one byte past the cap rather than trusting a size that may change under us.
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            message = (
                f"the file is too large (over {MAX_FILE_BYTES // 1024} KB); a config is a few KB"
            )
        else:
            return raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigFileMissing(path) from None
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    except OSError as exc:
        message = f"cannot read the file: {exc.strerror or exc}"
    raise ConfigError([ConfigIssue(str(path), None, "", message)])


def _by_line(issue: ConfigIssue) -> tuple[int, int]:
    return (0, issue.line) if issue.line is not None else (1, 0)
