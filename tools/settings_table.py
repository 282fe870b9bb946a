"""The README's configuration table, printed from the settings table (``rag/settings_table.py``).

    python tools/settings_table.py           # print the Markdown table
    python tools/settings_table.py --write   # put it into README.md, between the two markers

Defaults come from the config dataclasses (``Settings()``), so the README shows what the
code does. ``tests/unit/test_settings_readme.py`` fails while README.md's table differs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from operator import attrgetter
from pathlib import Path

from rag.config import Settings
from rag.settings_table import SETTINGS, Setting

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN = "<!-- settings table: printed from rag/settings_table.py by `python tools/settings_table.py --write` -->"
END = "<!-- end of settings table -->"
HEADER = "| variable | default | values | meaning |\n|---|---|---|---|"


def shown(value: object) -> str:
    """A default as the README shows it: ``true``, ``0.35``, ``1`` for 1.0, ``corpus``; none for () and ""."""
    if value in ((), ""):
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def default_cell(setting: Setting, base: Settings | None = None) -> str:
    """The "default" cell of a variable's row: the field's default, and its note if any."""
    value = shown(attrgetter(setting.field)(base or Settings()))
    return f"{value} ({setting.default_note})" if setting.default_note else value


def render() -> str:
    """The whole table, header included, one row per variable in the settings table's order."""
    base = Settings()
    rows = [
        f"| `{s.env}` | {default_cell(s, base)} | {s.parser.values} | {s.doc} |".replace("\n", " ")
        for s in SETTINGS
    ]
    return "\n".join([HEADER, *rows])


def rewrite(readme: str, table: str) -> str:
    """``readme`` with the text between :data:`BEGIN` and :data:`END` replaced by ``table``."""
    head, found, rest = readme.partition(BEGIN + "\n")
    _, found_end, tail = rest.partition("\n" + END)
    if not found or not found_end:
        raise ValueError(f"README.md has no settings table between {BEGIN!r} and {END!r}")
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="replace the table in README.md instead of printing it")
    args = parser.parse_args(argv)
    table = render()
    if not args.write:
        print(table)
        return 0
    try:
        updated = rewrite(README.read_text(encoding="utf-8"), table)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    README.write_text(updated, encoding="utf-8")
    print(f"wrote the settings table ({len(SETTINGS)} variables) into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
