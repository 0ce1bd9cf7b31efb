"""A persona's sampling settings: what loads, what it becomes, and what is refused where."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.config_models import load_config
from core.config import PersonaConfig
from core.errors import ConfigError

CONFIG = """\
providers:
  local:
    type: llamacpp
  openai:
    api_key: ${{OPENAI_API_KEY}}
personas:
  helper:
    system_prompt: hi
    model: m
    provider: {provider}
    context_tokens: 2048
{settings}
bots:
  - name: console
    platform: console
    persona: helper
"""
ENV = {"OPENAI_API_KEY": "sk-test", "USER": "tester", "SEED": "4294967295"}


def persona(tmp_path: Path, settings: str, provider: str = "local") -> PersonaConfig:
    path = tmp_path / "bots.yaml"
    path.write_text(CONFIG.format(provider=provider, settings=settings), encoding="utf-8")
    return load_config(path, ENV).personas["helper"]


def problems(tmp_path: Path, settings: str, provider: str = "local") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        persona(tmp_path, settings, provider)
    return [f"{issue.line} {issue.path}: {issue.message}" for issue in caught.value.issues]


def test_unset_settings_stay_unset(tmp_path: Path) -> None:
    loaded = persona(tmp_path, "")
    unset = (loaded.frequency_penalty, loaded.presence_penalty, loaded.seed, loaded.repeat_penalty)
    assert unset == (None, None, None, None) and loaded.stop == ()


def test_every_setting_loads_on_a_local_persona(tmp_path: Path) -> None:
    settings = """\
    frequency_penalty: -2
    presence_penalty: 2
    stop: ["###", "User:", "\\n\\n\\n", "<|im_end|>"]
    seed: 4294967294
    repeat_penalty: 2"""
    loaded = persona(tmp_path, settings)
    assert (loaded.frequency_penalty, loaded.presence_penalty) == (-2, 2)
    assert loaded.stop == ("###", "User:", "\n\n\n", "<|im_end|>")
    assert (loaded.seed, loaded.repeat_penalty) == (4294967294, 2)


def test_one_stop_string_may_be_written_bare(tmp_path: Path) -> None:
    assert persona(tmp_path, '    stop: "###"').stop == ("###",)


def test_null_stop_means_none_like_other_optional_keys(tmp_path: Path) -> None:
    assert persona(tmp_path, "    stop: null").stop == ()


def test_openai_personas_take_the_standard_settings_and_any_whole_seed(tmp_path: Path) -> None:
    settings = "    frequency_penalty: 0.5\n    seed: 12345678901\n    stop: END"
    loaded = persona(tmp_path, settings, provider="openai")
    assert (loaded.frequency_penalty, loaded.seed, loaded.stop) == (0.5, 12345678901, ("END",))


def test_each_bad_setting_is_named_at_its_line(tmp_path: Path) -> None:
    settings = """\
    frequency_penalty: 2.5
    presence_penalty: hot
    stop: ["a", "b", "c", "d", "e"]
    seed: -1
    repeat_penalty: 2.5"""
    assert problems(tmp_path, settings) == [
        "12 personas.helper.frequency_penalty: must be at most 2",
        "13 personas.helper.presence_penalty: expected a number, got 'hot'",
        "14 personas.helper.stop: may have at most 4 entries",
        "15 personas.helper.seed: must be at least 0",
        "16 personas.helper.repeat_penalty: must be at most 2",
    ]


def test_repeat_penalty_needs_a_llamacpp_provider(tmp_path: Path) -> None:
    [problem] = problems(tmp_path, "    repeat_penalty: 1.1", provider="openai")
    assert problem.startswith("12 personas.helper.repeat_penalty: ")
    assert "provider 'openai' is not a llamacpp provider" in problem


def test_a_seed_llama_cpp_would_read_as_random_is_refused_even_from_a_variable(
    tmp_path: Path,
) -> None:
    [problem] = problems(tmp_path, "    seed: ${SEED}")
    assert problem.startswith("12 personas.helper.seed: must be at most 4294967294")
