"""The maintainers' JSON lists that live in the corpus folder beside the documents: the
acronym glossary, the synonym groups and the questions per sentence. Each shapes the index
without being a document; this module reads one (the owners parse and check their own)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.errors import CorpusError


def read_list(corpus_dir: Path, name: str) -> tuple[Path, Any] | None:
    """``(path, parsed JSON)`` of the list ``name`` in ``corpus_dir``; None when there is
    none; :class:`CorpusError` when it is there but not valid JSON."""
    path = corpus_dir / name
    if not path.is_file():
        return None
    try:
        return path, json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{path} is not valid JSON ({exc})") from exc
