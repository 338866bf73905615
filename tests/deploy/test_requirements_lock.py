"""requirements.lock pins exactly what pyproject.toml asks for, and everything that installs uses it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    found = (_PIN.match(line.strip()) for line in lines)
    return {_normalized(m.group(1)): m.group(2) for m in found if m}


def _declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = _pins(requirements)
    assert len(pins) == len(requirements), "every dependency in pyproject.toml is pinned with =="
    return pins


def _locked() -> dict[str, str]:
    return _pins((ROOT / "requirements.lock").read_text().splitlines())


def test_the_lock_pins_every_declared_dependency_at_its_declared_version() -> None:
    locked = _locked()
    stale = {name: (version, locked.get(name)) for name, version in _declared().items()}
    assert {n: v for n, v in stale.items() if v[0] != v[1]} == {}, "run `make lock` and commit the lock"


def test_the_lock_says_how_to_regenerate_it() -> None:
    assert "make lock" in "".join((ROOT / "requirements.lock").read_text().splitlines(keepends=True)[:3])


def test_the_venv_and_the_image_install_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "deploy/docker/Dockerfile").read_text()
    assert "-c $(LOCK)" in makefile and "LOCK := requirements.lock" in makefile
    assert "COPY pyproject.toml requirements.lock ./" in dockerfile
    assert "-c requirements.lock" in dockerfile
    for ignore in (ROOT / ".dockerignore", ROOT / "deploy/docker/Dockerfile.dockerignore"):
        if ignore.exists():
            assert "!requirements.lock" in ignore.read_text().splitlines()
