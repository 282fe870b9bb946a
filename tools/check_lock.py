"""Does ``requirements.lock`` still match ``pyproject.toml``? Offline; exit 1 with the reasons if not.

    python tools/check_lock.py [--lock requirements.lock] [--pyproject pyproject.toml]

The lock (written by ``bash tools/lock.sh``) must

- pin every package exactly (``==``) with at least one hash, since it is installed with
  ``pip install --require-hashes``;
- hold every requirement of ``[project.dependencies]`` and of the ``dev`` extra, at a
  version inside its range, marked as wanted by the project (``# via csp-seller-rag``);
- hold nothing stale: a package the lock says the project wants directly is one
  ``pyproject.toml`` lists, and every package is wanted by the project or by another locked
  package (so a requirement dropped from ``pyproject.toml`` cannot linger);
- leave torch out (it is installed first, from its CPU wheel: see ``tools/lock.sh``) and
  hold no CUDA package (``nvidia-*``, ``triton``): a lock that has them was resolved
  against the CUDA build of torch.

The extras of a requirement (``litestar[standard]``) are not checked: which packages they
bring is in the packages' metadata, not in the lock.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "csp-seller-rag"
LOCKED_EXTRAS = ("dev",)
EXCLUDED = frozenset({"torch"})
"""Installed before the lock, never from it (see ``tools/lock.sh``)."""
EXCLUDED_HEADER = "# The following packages were excluded from the output:"
REFRESH = "run `bash tools/lock.sh` and commit requirements.lock"


@dataclass(frozen=True, slots=True)
class Locked:
    """One entry of the lock: ``name==version``, its hashes and who wants it."""

    name: str
    """Canonical name (``prometheus-client``)."""
    specifier: str
    version: str | None
    """The pinned version, or ``None`` when the entry is not an exact ``==`` pin."""
    hashes: tuple[str, ...]
    wanted_by: tuple[str, ...]
    """Canonical names from the ``# via`` annotation (``csp-seller-rag`` for the project)."""


@dataclass(frozen=True, slots=True)
class Lock:
    entries: dict[str, Locked]
    excluded: frozenset[str]
    """Packages the resolver found but left out of the file (its closing comment)."""


def parse_lock(text: str) -> Lock:
    """Read a requirements file written by ``uv pip compile --generate-hashes``.

    Raises:
        ValueError: a line that is neither a requirement, a hash, an annotation nor a comment.
    """
    entries: list[tuple[Requirement, list[str], list[str]]] = []  # requirement, hashes, wanted by
    excluded: set[str] = set()
    in_excluded = in_via = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().removesuffix("\\").strip()
        if not line or raw.startswith("#"):  # a blank line or a comment of the file, not of an entry
            in_via = False
            if line == EXCLUDED_HEADER:
                in_excluded = True
            elif in_excluded and (name := line.lstrip("#").strip()):
                excluded.add(canonicalize_name(name))
            continue
        if line.startswith(("--hash=", "#")) and not entries:
            raise ValueError(f"line {number}: {line[:40]!r} before any requirement")
        if line.startswith("--hash="):
            entries[-1][1].append(line.removeprefix("--hash="))
        elif line.startswith("#"):
            comment = line.lstrip("#").strip()
            if comment.startswith("via"):
                in_via, comment = True, comment.removeprefix("via").strip()
            if in_via and comment and not comment.startswith("-"):  # "-c file", "-r file": not packages
                entries[-1][2].append(canonicalize_name(comment.split()[0]))
        else:
            in_via = False
            try:
                entries.append((Requirement(line), [], []))
            except InvalidRequirement as exc:
                raise ValueError(f"line {number}: {line!r} is not a requirement ({exc})") from None
    return Lock({e.name: e for e in map(_locked, entries)}, frozenset(excluded))


def _locked(entry: tuple[Requirement, list[str], list[str]]) -> Locked:
    requirement, hashes, wanted_by = entry
    specifiers = list(requirement.specifier)
    exact = len(specifiers) == 1 and specifiers[0].operator == "==" and "*" not in specifiers[0].version
    return Locked(
        name=canonicalize_name(requirement.name),
        specifier=str(requirement.specifier),
        version=specifiers[0].version if exact else None,
        hashes=tuple(hashes),
        wanted_by=tuple(wanted_by),
    )


def project_requirements(pyproject_text: str) -> list[Requirement]:
    """``[project.dependencies]`` and the locked extras, whose markers hold on this Python."""
    project = tomllib.loads(pyproject_text)["project"]
    listed = list(project.get("dependencies", []))
    for extra in LOCKED_EXTRAS:
        listed += project.get("optional-dependencies", {}).get(extra, [])
    requirements = [Requirement(item) for item in listed]
    return [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]


def problems(lock: Lock, requirements: Iterable[Requirement]) -> list[str]:
    """Every way ``lock`` disagrees with ``requirements`` (empty when it matches)."""
    found: list[str] = []
    project = canonicalize_name(PROJECT)
    for entry in lock.entries.values():
        if entry.version is None:
            found.append(f"{entry.name}{entry.specifier} is not pinned to one version (==)")
        if not entry.hashes:
            found.append(f"{entry.name} has no hash (pip install --require-hashes would refuse the lock)")
        if entry.name in EXCLUDED:
            found.append(f"{entry.name} is in the lock: it must be installed first from its CPU wheel")
        if entry.name.startswith("nvidia-") or entry.name == "triton":
            found.append(f"{entry.name} is a CUDA package: the lock was resolved against torch's CUDA build")

    direct: dict[str, Requirement] = {}
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        direct[name] = requirement
        locked = lock.entries.get(name)
        if locked is None:
            found.append(f"{requirement} (pyproject.toml) is not in the lock")
            continue
        if locked.version is not None and not requirement.specifier.contains(locked.version, prereleases=True):
            found.append(f"{name}=={locked.version} in the lock is outside pyproject.toml's {requirement}")
        if project not in locked.wanted_by:
            found.append(f"{name} is in pyproject.toml but the lock does not list it as the project's own")

    for entry in lock.entries.values():
        if project in entry.wanted_by and entry.name not in direct:
            found.append(f"{entry.name} is locked as the project's own but pyproject.toml no longer lists it")
    unreachable = set(lock.entries) - _wanted(lock, project)
    found += [f"{name} is wanted by nothing the project needs (stale)" for name in sorted(unreachable)]
    return found


def _wanted(lock: Lock, project: str) -> set[str]:
    """Names reachable from the project through the ``# via`` annotations."""
    reached = {project} | set(lock.excluded)
    grew = True
    while grew:
        grew = False
        for entry in lock.entries.values():
            if entry.name not in reached and reached.intersection(entry.wanted_by):
                reached.add(entry.name)
                grew = True
    return reached - {project} - set(lock.excluded)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    args = parser.parse_args(argv)
    try:
        lock = parse_lock(args.lock.read_text(encoding="utf-8"))
        requirements = project_requirements(args.pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError) as exc:
        print(f"check_lock: cannot read {args.lock} or {args.pyproject}: {exc}", file=sys.stderr)
        return 2
    found = problems(lock, requirements)
    for problem in found:
        print(f"{args.lock.name}: {problem}", file=sys.stderr)
    if found:
        print(f"{len(found)} problem(s): {REFRESH}", file=sys.stderr)
        return 1
    print(f"{args.lock.name}: {len(lock.entries)} packages, in step with {args.pyproject.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
