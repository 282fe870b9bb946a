"""The `rag` command as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _rag(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return subprocess.run(
        [sys.executable, "-m", "rag", *args],
        cwd=cwd,
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=300,
        input=stdin,
    )


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory, index_dir: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"RAG_INDEX_DIR": str(index_dir)}


def test_ask_prints_cited_answer(cli_env: dict[str, str]) -> None:
    out = _rag("ask", "Who handles billing questions once my customer buys through a CSP partner?", env=cli_env)
    assert out.returncode == 0, out.stderr
    assert "[1] csp-for-sellers.md, slide 9" in out.stdout
    assert "Traceback" not in out.stderr


def test_ask_json_and_search(cli_env: dict[str, str]) -> None:
    out = _rag("ask", "renewal of an EA coming up", "--json", env=cli_env)
    data = json.loads(out.stdout)
    assert data["abstained"] is False and data["citations"][0]["slide"] == 8
    out = _rag("search", "renewal of an EA coming up", "-k", "2", env=cli_env)
    assert out.returncode == 0 and out.stdout.startswith("1. [")


def test_chat_keeps_the_thread_and_starts_anew(cli_env: dict[str, str]) -> None:
    lines = [
        "My customer wants to move from CSP back to EA.",
        "Should I tell the partner?",
        "   ",
        "/new",
        "Should I tell the partner?",
        "/quit",
        "never read",
    ]
    out = _rag("chat", env=cli_env, stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    follow_up = out.stdout.split("Sources (")[1]
    assert "slide 11" in follow_up  # the first answer's sources...
    assert "(read as a follow-up to: My customer wants to move from CSP back to EA.)" in follow_up
    # the verdict, as the deck words it (the terminal wraps lines: compare the words)
    assert "Don’t communicate this to the partner on the customer’s behalf" in " ".join(follow_up.split())
    assert out.stderr.strip() == "rag: error: the question is empty: type a question in words"
    after_new = out.stdout.split("(new thread)")[1]
    assert "read as a follow-up" not in after_new  # the same words, alone, lean on nothing
    assert out.stdout.count("(read as a follow-up") == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("ask", "   "), 2, "the question is empty"),
        (("ask", "hi", "-k", "0"), 2, "between 1 and 20"),
        (("frobnicate",), 2, "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    cli_env: dict[str, str], args: tuple[str, ...], code: int, message: str
) -> None:
    out = _rag(*args, env=cli_env)
    assert out.returncode == code
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_missing_corpus_and_unreadable_index(tmp_path: Path) -> None:
    out = _rag(
        "ask", "hello there", env={"RAG_CORPUS_DIR": str(tmp_path / "none"), "RAG_INDEX_DIR": str(tmp_path / "i")}
    )
    assert out.returncode == 1 and "corpus folder" in out.stderr and "Traceback" not in out.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "CURRENT").write_text("nothing-here\n")
    env = {"RAG_INDEX_DIR": str(broken), "RAG_AUTO_REBUILD": "false"}
    out = _rag("ask", "hello there", env=env)
    assert out.returncode == 1 and "missing: run `rag index`" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_reader_that_goes_away_is_no_traceback(cli_env: dict[str, str]) -> None:
    """`rag ask … | head -1`: the pipe's reader is gone before rag writes."""
    args = ("ask", "Who handles billing once my customer buys through CSP?")
    read, write = os.pipe()
    os.close(read)
    try:
        base = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        out = subprocess.run(
            [sys.executable, "-m", "rag", *args], cwd=ROOT, env=base | cli_env, stdout=write,
            stderr=subprocess.PIPE, text=True, timeout=300,
        )
    finally:
        os.close(write)
    assert "Traceback" not in out.stderr and "BrokenPipeError" not in out.stderr, out.stderr
    assert out.returncode == 1
