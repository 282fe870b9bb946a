"""Acronyms: mined from the corpus ("Customer Management Agent Tool (CMAT)") and a
maintainers' glossary (``corpus/glossary.json``), used to expand questions.

A seller types "CMAT" or "MCA"; the guidance may spell it out, or the other way
round. Expanding the question with the other form lets the lexical side match
either spelling (the dense side embeds the question as asked: see ``rag.retrieval``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from rag.errors import CorpusError
from rag.word_lists import read_list

GLOSSARY_FILE = "glossary.json"

_DEFINITION = re.compile(r"((?:[A-Z][\w-]*\s+){1,6})\(([A-Z]{2,6})\)")


def mine(texts: Iterable[str]) -> dict[str, str]:
    """``{ACRONYM: expansion}`` for every "Long Name (LN)" whose initials fit the acronym."""
    found: dict[str, str] = {}
    for text in texts:
        for match in _DEFINITION.finditer(text):
            words, acronym = match.group(1).split(), match.group(2)
            # Take as many trailing words as the acronym has letters, when their initials agree.
            for n in range(len(words), 0, -1):
                candidate = words[-n:]
                initials = "".join(w[0] for w in candidate).upper()
                if initials == acronym or (initials.startswith(acronym[0]) and n == len(acronym)):
                    found.setdefault(acronym, " ".join(candidate))
                    break
    return found


def load_glossary(corpus_dir: Path) -> dict[str, str]:
    """The maintainers' glossary, ``{"EA": "Enterprise Agreement", ...}`` (empty if absent)."""
    found = read_list(corpus_dir, GLOSSARY_FILE)
    if found is None:
        return {}
    path, data = found
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise CorpusError(f"{path} must map acronyms to expansions, e.g. {{\"EA\": \"Enterprise Agreement\"}}")
    return {k: v for k, v in data.items() if not k.startswith("_")}


def expand(question: str, acronyms: Mapping[str, str]) -> str:
    """The question followed by the other spelling of every acronym or expansion it uses."""
    extra: list[str] = []
    lowered = question.lower()
    for acronym, expansion in sorted(acronyms.items()):
        has_acronym = re.search(rf"\b{re.escape(acronym)}s?\b", question, re.IGNORECASE) is not None
        has_expansion = expansion.lower() in lowered
        if has_acronym and not has_expansion:
            extra.append(expansion)
        elif has_expansion and not has_acronym:
            extra.append(acronym)
    return f"{question} ({'; '.join(extra)})" if extra else question
