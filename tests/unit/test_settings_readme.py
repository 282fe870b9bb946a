"""README.md against the code: its settings table against ``rag/settings_table.py``, and the
modules it names against the tree."""

from __future__ import annotations

import re
from pathlib import Path

from rag.settings_table import SETTINGS
from tools.settings_table import BEGIN, END, default_cell, render, rewrite

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FIX = "run `python tools/settings_table.py --write` (or fix rag/settings_table.py if the README was right)"


def configuration_section(text: str) -> str:
    start = text.index("\n## Configuration\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def readme_rows(text: str) -> list[tuple[str, str]]:
    """(variable, default cell) of every row of the Configuration section's table."""
    rows = []
    for line in configuration_section(text).splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append((cells[0].strip("`"), cells[1]))
    return rows


def test_the_readme_lists_exactly_the_variables_from_env_reads() -> None:
    rows = readme_rows(README.read_text(encoding="utf-8"))
    documented = [name for name, _ in rows]
    read = [s.env for s in SETTINGS]
    problems = [f"README.md lacks {name} (read by Settings.from_env)" for name in read if name not in documented]
    problems += [f"README.md documents {name}, which Settings.from_env does not read" for name in documented
                 if name not in read]
    problems += [f"README.md lists {name} {documented.count(name)} times" for name in sorted(set(documented))
                 if documented.count(name) > 1]
    assert not problems, "\n".join([*problems, FIX])


def test_the_readme_shows_the_defaults_of_the_code() -> None:
    shown = dict(readme_rows(README.read_text(encoding="utf-8")))
    problems = [
        f"{s.env}: README.md says the default is {shown[s.env]}, the code's is {default_cell(s)}"
        for s in SETTINGS
        if s.env in shown and shown[s.env] != default_cell(s)
    ]
    assert not problems, "\n".join([*problems, FIX])


def test_the_readme_table_is_the_printed_one() -> None:
    """Values and meanings too: the README's table is printed from the settings table, never edited."""
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"README.md lost the settings table markers {BEGIN!r} and {END!r}"
    printed = render().splitlines()
    current = text.split(BEGIN + "\n", 1)[1].split("\n" + END, 1)[0].splitlines()
    differing = [f"README.md: {a}\nprinted:   {b}" for a, b in zip(current, printed, strict=False) if a != b]
    assert current == printed, "\n".join([*differing[:3], f"{len(current)} lines, {len(printed)} printed", FIX])


def test_writing_the_table_replaces_only_what_is_between_the_markers() -> None:
    readme = f"# Title\n\ntext\n{BEGIN}\n| old |\n| rows |\n{END}\n\nmore text\n"
    assert rewrite(readme, "| new |") == f"# Title\n\ntext\n{BEGIN}\n| new |\n{END}\n\nmore text\n"


PY_PATH = re.compile(r"(?<![\w./])((?:[\w-]+/)*[A-Za-z_]\w*\.py)\b")
PACKAGES = ("rag", "rag/formats", "api", "eval", "tools", "bench")


def test_every_module_the_readme_names_exists() -> None:
    """A path (``rag/intent.py``) must exist as written; a bare module name (``chunking.py``,
    as in "How it works") in one of the packages."""
    named = set(PY_PATH.findall(README.read_text(encoding="utf-8")))
    missing = sorted(
        name for name in named
        if not ((ROOT / name).is_file() if "/" in name else any((ROOT / p / name).is_file() for p in PACKAGES))
    )
    assert named and not missing, f"README.md names modules that do not exist: {missing}"
