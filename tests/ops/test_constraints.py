"""constraints.txt against the ranges: every dependency that pyproject.toml (main, test and
bench) and client/pyproject.toml name, and everything they pull in, has an exact pin
there that its range allows; and the installs of the Makefile and the image take it.

A dependency added to a pyproject without `make constraints` fails here."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = {"the-eye", "eye-client"}


def read_pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for number, raw in enumerate((ROOT / "constraints.txt").read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line)
        assert match, f"constraints.txt:{number}: {line!r} is not an exact name==version pin"
        name = canonicalize_name(match[1])
        assert name not in pins, f"constraints.txt:{number}: {name} is pinned twice"
        pins[name] = Version(match[2])
    return pins


PINS = read_pins()


def declared() -> list[tuple[str, Requirement]]:
    """(where, requirement) for each dependency that the two pyproject files name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    client = tomllib.loads((ROOT / "client" / "pyproject.toml").read_text())["project"]
    groups = {
        "pyproject.toml dependencies": project["dependencies"],
        **{
            f"pyproject.toml [{extra}]": project["optional-dependencies"][extra]
            for extra in ("test", "bench")
        },
        "client/pyproject.toml dependencies": client["dependencies"],
    }
    return [(where, Requirement(text)) for where, texts in groups.items() for text in texts]


DECLARED = declared()


def applies(requirement: Requirement, extras: set[str] | frozenset[str] = frozenset()) -> bool:
    if requirement.marker is None:
        return True
    # An unconditional requirement and those of the extras asked for.
    return any(
        requirement.marker.evaluate({**default_environment(), "extra": extra})
        for extra in {"", *extras}
    )


def test_constraints_pin_exactly():
    assert PINS, "constraints.txt pins nothing"
    assert not PROJECT_PACKAGES & set(PINS), "the project's own packages are not pinned"


def test_the_tree_includes_the_schema_validator():
    assert "jsonschema" in PINS
    assert {"jsonschema-specifications", "referencing", "rpds-py", "attrs"} <= set(PINS)


@pytest.mark.parametrize(("where", "requirement"), DECLARED, ids=[str(r) for _, r in DECLARED])
def test_every_declared_dependency_is_pinned_within_its_range(where, requirement):
    if not applies(requirement):
        pytest.skip(f"{requirement} does not apply to this Python")
    name = canonicalize_name(requirement.name)
    assert name in PINS, f"{requirement} ({where}) has no pin: run `make constraints`"
    pin = PINS[name]
    assert requirement.specifier.contains(pin, prereleases=True), (
        f"constraints.txt pins {name}=={pin}, outside {requirement} ({where})"
    )


def installed_tree() -> dict[str, tuple[Requirement, str | None]]:
    """Every distribution that the declared dependencies pull in, as installed here: name
    -> (the requirement that pulled it in, the installed version or None)."""
    tree: dict[str, tuple[Requirement, str | None]] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [requirement for _, requirement in DECLARED if applies(requirement)]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            tree.setdefault(name, (requirement, None))
            continue
        tree.setdefault(name, (requirement, distribution.version))
        for text in distribution.requires or []:
            child = Requirement(text)
            if applies(child, requirement.extras):
                todo.append(child)
    return tree


def test_every_installed_dependency_is_pinned_at_its_installed_version():
    """The walk through the installed metadata finds what the ranges alone do not: the
    dependencies of dependencies (psycopg[binary] -> psycopg-binary), and a virtualenv that
    was not installed with -c constraints.txt."""
    tree = installed_tree()
    assert {"django", "httpx", "pytest", "psycopg-binary"} <= set(tree)
    unpinned = {name for name in tree if name not in PINS}
    assert not unpinned, f"pulled in but not pinned: {sorted(unpinned)}: run `make constraints`"
    differs = {
        name: (version, str(PINS[name]))
        for name, (_, version) in tree.items()
        if version is not None and Version(version) != PINS[name]
    }
    assert not differs, (
        f"installed (left) differs from constraints.txt (right): {differs}; "
        "install with -c constraints.txt (make does)"
    )


def test_every_install_takes_the_constraints():
    makefile = (ROOT / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "$(BIN)/pip install" in line]
    assert installs
    for line in installs:
        assert "-c constraints.txt" in line, f"Makefile: {line.strip()!r}"
    for target in ("$(VENV)/.installed:", "$(VENV)/.installed-test:"):
        (rule,) = [line for line in makefile.splitlines() if line.startswith(target)]
        assert "constraints.txt" in rule.split("|")[0], f"{target} does not depend on it"
    dockerfile = (ROOT / "Dockerfile").read_text()
    pip_installs = re.findall(r"pip install [^\n]*", dockerfile)
    assert pip_installs
    for line in pip_installs:
        assert "-c constraints.txt" in line, f"Dockerfile: {line!r}"
    assert re.search(r"^COPY [^\n]*constraints\.txt", dockerfile, re.MULTILINE)
