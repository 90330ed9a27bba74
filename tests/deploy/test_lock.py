"""The hashed locks (requirements/*.txt) agree with pyproject.toml's direct pins.

pyproject.toml pins every direct dependency; pip-compile locks them with every transitive one
(README "Packaging"). A pin changed, added or removed in pyproject without compiling again
fails here, naming the command to run.
"""

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.support import ROOT

COMPILE = (
    "pip-compile --generate-hashes --no-emit-index-url --no-emit-trusted-host "
    "--no-emit-find-links --strip-extras --allow-unsafe {extra}-o requirements/{name} "
    "pyproject.toml"
)
PROJECT = "communityos (pyproject.toml)"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for line in requirements:
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", (
            f"pyproject.toml pins each direct dependency exactly (name==version): {line!r}"
        )
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def _lock(name: str) -> tuple[dict[str, str], dict[str, set[str]], set[str], str]:
    """The lock's versions by package, who asked for each (its `# via` lines), the packages
    with a hash, and its text."""
    text = (ROOT / "requirements" / name).read_text()
    versions: dict[str, str] = {}
    via: dict[str, set[str]] = {}
    hashed: set[str] = set()
    current = None
    for line in text.splitlines():
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line):
            current = canonicalize_name(match.group(1))
            versions[current] = match.group(2)
            via[current] = set()
        elif not line.startswith((" ", "\t")):
            current = None  # the header, or the comments about unsafe packages
        elif current and "--hash=sha256:" in line:
            hashed.add(current)
        elif current and (match := re.match(r"^\s+#\s+(?:via\s+)?(\S.*)$", line)):
            via[current].add(match.group(1).strip())
    return versions, via, hashed, text


def _compile(name: str) -> str:
    return COMPILE.format(extra="--extra dev " if name == "dev.txt" else "", name=name)


@pytest.mark.parametrize("name", ["base.txt", "dev.txt"])
def test_the_lock_has_every_direct_pin_at_its_version(name):
    project = _pyproject()
    direct = _pins(project["dependencies"])
    if name == "dev.txt":
        direct |= _pins(project["optional-dependencies"]["dev"])
    versions, via, _, _ = _lock(name)
    wrong = {
        package: (version, versions.get(package))
        for package, version in direct.items()
        if versions.get(package) != version
    }
    assert not wrong, (
        f"requirements/{name} disagrees with pyproject.toml (package: (pinned, locked)): {wrong}. "
        f"Run: {_compile(name)}"
    )
    # ... and nothing is locked as asked for by the project that the project no longer asks for.
    stale = sorted(p for p, asked in via.items() if PROJECT in asked and p not in direct)
    assert not stale, f"requirements/{name} locks dependencies gone from pyproject.toml: {stale}. "
    f"Run: {_compile(name)}"


def test_the_dev_lock_has_the_base_lock_at_the_same_versions():
    base, *_ = _lock("base.txt")
    dev, *_ = _lock("dev.txt")
    differ = {p: (v, dev.get(p)) for p, v in base.items() if dev.get(p) != v}
    assert not differ, f"requirements/base.txt and dev.txt differ: {differ}"


@pytest.mark.parametrize("name", ["base.txt", "dev.txt"])
def test_the_lock_is_hashed_and_names_no_index(name):
    versions, _, hashed, text = _lock(name)
    assert versions
    unhashed = sorted(set(versions) - hashed)
    assert not unhashed, f"requirements/{name}: entries without a hash: {unhashed}"
    for option in ("--index-url", "--extra-index-url", "--find-links", "--trusted-host", "://"):
        assert option not in text, f"requirements/{name} names a package source ({option})"
