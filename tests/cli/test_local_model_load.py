"""An xllamacpp that is installed but cannot load (a slim image without libgomp) is named as
such by `parley check` and by the turn that tries it, never as "not installed".

The children run with a stand-in `xllamacpp` package first on their path whose import fails
the way the real extension does when its OpenMP runtime is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.model_files import LocalModelError, load_xllamacpp

ROOT = Path(__file__).resolve().parents[2]
MISSING_LIBRARY = "libgomp.so.1: cannot open shared object file: No such file or directory"
CANNOT_LOAD = f"xllamacpp is installed but cannot load: {MISSING_LIBRARY}"


@pytest.fixture
def unloadable_xllamacpp(tmp_path: Path) -> Path:
    package = tmp_path / "stand-ins" / "xllamacpp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"raise ImportError({MISSING_LIBRARY!r})\n")
    return package.parent


def _parley(
    tmp_path: Path, stand_ins: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "bots.yaml"
    config.write_text((ROOT / "bots.yaml").read_text())
    env = {**os.environ, "PYTHONPATH": f"{stand_ins}{os.pathsep}{ROOT}"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


def test_check_loads_the_extension_and_names_what_it_lacks(
    tmp_path: Path, unloadable_xllamacpp: Path
) -> None:
    done = _parley(tmp_path, unloadable_xllamacpp, "check")
    assert done.returncode == 0, done.stderr
    assert f"→ NOT READY: {CANNOT_LOAD}" in done.stdout
    assert "ready (local model)" not in done.stdout
    assert "not installed" not in done.stdout


def test_a_turn_on_the_local_model_logs_the_real_cause(
    tmp_path: Path, unloadable_xllamacpp: Path
) -> None:
    done = _parley(tmp_path, unloadable_xllamacpp, "chat", "--log-level", "info", stdin="hi\n")
    assert done.returncode == 0, done.stderr
    (failed,) = [line for line in done.stderr.splitlines() if "outcome=failed" in line]
    assert f"error=LocalModelError: {CANNOT_LOAD}" in failed


def test_only_a_missing_package_is_called_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # what an absent package raises
    with pytest.raises(LocalModelError, match=r"^xllamacpp is not installed: pip install"):
        load_xllamacpp()


def test_a_missing_dependency_of_the_package_is_named(tmp_path: Path) -> None:
    package = tmp_path / "xllamacpp"
    package.mkdir()
    (package / "__init__.py").write_text("import parley_absent_dependency\n")
    code = (
        "from core.model_files import LocalModelError, load_xllamacpp\n"
        "try:\n    load_xllamacpp()\nexcept LocalModelError as error:\n    print(error)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.strip() == (
        "xllamacpp cannot load: No module named 'parley_absent_dependency'"
    ), done.stderr
