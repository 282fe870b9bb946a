from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rag.acronyms import expand, load_glossary, mine
from rag.errors import CorpusError
from rag.tokens import TokenCounter, load_token_counter
from tests.conftest import CORPUS, SHARED_TIKTOKEN


def test_mines_definitions_from_the_deck() -> None:
    found = mine([(CORPUS / "csp-for-sellers.md").read_text()])
    assert found["CMAT"] == "Customer Management Agent Tool"
    assert found["PDM"] == "Partner Development Manager"
    assert found["CSP"] == "Cloud Solution Provider"


def test_expansion_both_ways() -> None:
    acr = {"MCA": "Microsoft Customer Agreement", "EA": "Enterprise Agreement"}
    assert expand("move to an MCA?", acr) == "move to an MCA? (Microsoft Customer Agreement)"
    assert expand("renew the enterprise agreement", acr) == "renew the enterprise agreement (EA)"
    assert expand("each partner", acr) == "each partner"  # no match inside words


def test_glossary_file(tmp_path: Path) -> None:
    assert load_glossary(tmp_path) == {}
    (tmp_path / "glossary.json").write_text('{"EA": "Enterprise Agreement", "_comment": "x"}')
    assert load_glossary(tmp_path) == {"EA": "Enterprise Agreement"}
    (tmp_path / "glossary.json").write_text('["EA"]')
    with pytest.raises(CorpusError, match="must map"):
        load_glossary(tmp_path)


FALLBACK = TokenCounter("model:fake", lambda text: len(text.split()))


@pytest.mark.skipif(not SHARED_TIKTOKEN.is_dir(), reason="needs the shared tiktoken cache")
def test_tiktoken_from_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(SHARED_TIKTOKEN))
    counter = load_token_counter("cl100k_base", FALLBACK)
    assert counter.name == "tiktoken:cl100k_base"
    assert counter.count("hello world") == 2


def test_falls_back_to_model_tokenizer_without_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty: tiktoken would need the network
    with caplog.at_level(logging.WARNING, logger="rag.tokens"):
        counter = load_token_counter("o200k_base", FALLBACK)
        again = load_token_counter("o200k_base", FALLBACK)
    assert counter is FALLBACK and again is FALLBACK
    warnings = [r for r in caplog.records if "unavailable" in r.message]
    assert len(warnings) == 1  # warned once
