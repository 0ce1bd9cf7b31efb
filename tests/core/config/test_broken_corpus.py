"""Every file in tests/configs/broken fails to load with the problem its first line expects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bots.config_models import load_config
from core.errors import ConfigError

BROKEN = Path(__file__).parents[2] / "configs" / "broken"
ENV = {"OPENAI_API_KEY": "sk-test", "USER": "tester"}
# `# expect: <line or -> <key path>: <message fragment>`; the path is empty for file-level issues.
EXPECT = re.compile(r"# expect: (?P<line>\d+|-) (?P<path>\S*): (?P<fragment>.+)")


def _corpus() -> list[Path]:
    return sorted(BROKEN.glob("*.yaml"))


def test_corpus_covers_enough_problems() -> None:
    assert len(_corpus()) >= 60


@pytest.mark.parametrize("config_file", _corpus(), ids=lambda path: path.stem)
def test_broken_file_reports_expected_issue(config_file: Path) -> None:
    first_line = config_file.read_text(encoding="utf-8").splitlines()[0]
    expect = EXPECT.fullmatch(first_line)
    assert expect, f"{config_file.name} must start with '# expect: LINE PATH: FRAGMENT'"
    line = None if expect["line"] == "-" else int(expect["line"])

    with pytest.raises(ConfigError) as caught:
        load_config(config_file, ENV)

    issues = caught.value.issues
    found = [
        issue
        for issue in issues
        if issue.line == line
        and issue.path == expect["path"]
        and expect["fragment"] in issue.message
    ]
    assert found, "\n".join(str(issue) for issue in issues)
    assert all(issue.file == str(config_file) for issue in issues)
