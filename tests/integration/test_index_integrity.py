"""A damaged index is caught at load, naming the file, and is never served.

Each test works on a copy of the session's index (``CURRENT`` and ``builds/``), so the
damage stays local: a truncated, missing or altered artifact is an
:class:`~rag.errors.IndexCorruptError` that names the file; a running service keeps
serving the index it has; ``rag serve`` with ``RAG_AUTO_REBUILD=false`` refuses to
start; a build killed with SIGKILL leaves the previous index current, and the next build
removes what the killed one left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api.app import create_app
from rag.builder import build_index
from rag.errors import IndexCorruptError
from rag.index import BUILDS, CURRENT, current_build, load_index, read_manifest
from rag.leftovers import TMP_PREFIX
from rag.pipeline import Pipeline
from tests.conftest import CORPUS, ROOT, settings_for

BILLING = "Who handles billing questions once my customer buys through a CSP partner?"
ARTIFACTS = ["chunks.jsonl", "dense.faiss", "sentences.npy", "sentences.json", "sources.json", "acronyms.json", "bm25"]


@pytest.fixture
def index_copy(tmp_path: Path, index_dir: Path) -> Path:
    """The session's index, copied (without the exported models, which are large)."""
    folder = tmp_path / "index"
    folder.mkdir()
    shutil.copy2(index_dir / CURRENT, folder / CURRENT)
    shutil.copytree(index_dir / BUILDS, folder / BUILDS)
    return folder


def artifact(index: Path, name: str) -> Path:
    """The file of the current build called ``name`` (for ``bm25``: its largest file)."""
    folder = current_build(index)
    if name == "bm25":
        return max((p for p in (folder / "bm25").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    return folder / name


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # altered: same size, one byte different
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :])


@pytest.mark.parametrize("how", ["truncated", "missing", "altered"])
@pytest.mark.parametrize("name", ARTIFACTS)
def test_damage_is_caught_at_load_naming_the_file(index_copy: Path, name: str, how: str) -> None:
    target = artifact(index_copy, name)
    damage(target, how)
    with pytest.raises(IndexCorruptError) as caught:
        load_index(index_copy)
    assert str(target) in str(caught.value)
    assert "run `rag index`" in str(caught.value)


@pytest.mark.parametrize("how", ["truncated", "missing", "altered"])
def test_a_damaged_manifest_is_caught_naming_it(index_copy: Path, how: str) -> None:
    manifest = current_build(index_copy) / "manifest.json"
    if how == "altered":  # valid JSON, but it no longer vouches for the files as they are
        manifest.write_text(manifest.read_text().replace('"chunks.jsonl": "', '"chunks.jsonl": "0'))
    else:
        damage(manifest, how)
    with pytest.raises(IndexCorruptError) as caught:
        load_index(index_copy)
    named = current_build(index_copy) / ("chunks.jsonl" if how == "altered" else "manifest.json")
    assert str(named) in str(caught.value)


def test_without_auto_rebuild_a_damaged_index_is_refused_naming_the_file(index_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(index_dir=index_copy)
    strict = replace(settings, index=replace(settings.index, auto_rebuild=False))
    target = artifact(index_copy, "sentences.npy")
    damage(target, "altered")
    with pytest.raises(IndexCorruptError, match=str(target)):
        Pipeline.from_settings(strict, embedder=embedder)


def test_rag_serve_refuses_to_start_on_a_damaged_index(index_copy: Path) -> None:
    target = artifact(index_copy, "dense.faiss")
    damage(target, "truncated")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {"RAG_INDEX_DIR": str(index_copy), "RAG_CORPUS_DIR": str(CORPUS), "RAG_AUTO_REBUILD": "false"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "rag", "serve", "--port", "9"],  # never bound: it stops before
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"rag: error: index file {target} is missing or altered: run `rag index`"
    assert time.monotonic() - started < 30  # no model was loaded to find out


def test_a_running_service_keeps_serving_its_index_when_the_disk_copy_is_damaged(
    index_copy: Path, embedder  # type: ignore[no-untyped-def]
) -> None:
    settings = settings_for(index_dir=index_copy)
    settings = replace(
        settings,
        index=replace(settings.index, auto_rebuild=False),
        server=replace(settings.server, admin_keys=("admin",), rate_limit_per_minute=0),
    )
    pipeline = Pipeline.from_settings(settings, embedder=embedder)
    version = pipeline.manifest.index_version
    target = artifact(index_copy, "chunks.jsonl")
    damage(target, "truncated")
    admin = {"Authorization": "Bearer admin"}
    with TestClient(create_app(settings, pipeline), raise_server_exceptions=False) as client:
        assert client.post("/v1/admin/reindex", headers=admin).status_code == 202
        for _ in range(300):
            status = client.get("/v1/admin/reindex", headers=admin).json()
            if status["state"] != "running":
                break
            time.sleep(0.05)
        assert status["state"] == "failed" and str(target) in status["error"]
        assert status["serving_index_version"] == version
        answer = client.post("/v1/answer", json={"question": BILLING})
        assert answer.status_code == 200 and answer.json()["index_version"] == version
        assert answer.json()["citations"][0]["slide"] == 9


KILLABLE_BUILD = """
import sys, time
from rag import index

real_save = index.DenseIndex.save

def paused_save(self, path):
    # chunks.jsonl is written; the test SIGKILLs the build while it sits here
    time.sleep(120)
    real_save(self, path)

index.DenseIndex.save = paused_save
from rag.cli import main
sys.exit(main(["index", "--force"]))
"""


def test_a_build_killed_mid_write_leaves_the_previous_index_current(
    tmp_path: Path, index_copy: Path, embedder  # type: ignore[no-untyped-def]
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = settings_for(index_dir=index_copy, corpus_dir=corpus)
    good = read_manifest(current_build(index_copy))
    builds = index_copy / BUILDS
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {
        "RAG_INDEX_DIR": str(index_copy),
        "RAG_CORPUS_DIR": str(corpus),
        "RAG_CALIBRATION_FILE": str(settings.calibration_file),
        "RAG_EMBED_BACKEND": "torch",  # no ONNX export: straight to the build
    }
    build = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_BUILD], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not [p for p in builds.glob(f"{TMP_PREFIX}*") if (p / "chunks.jsonl").is_file()]:
            assert build.poll() is None, build.stderr.read().decode() if build.stderr else ""
            assert time.monotonic() < deadline, "the build never started writing"
            time.sleep(0.05)
        build.send_signal(signal.SIGKILL)
        assert build.wait(30) == -signal.SIGKILL
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
        if build.stderr:
            build.stderr.close()
    [left_over] = list(builds.glob(f"{TMP_PREFIX}*"))
    assert left_over.name.startswith(f"{TMP_PREFIX}{build.pid}-")

    # The previous build is still current, verifies and answers.
    loaded = load_index(index_copy)
    assert loaded.manifest.index_version == good.index_version and loaded.path == current_build(index_copy)
    answer = Pipeline(settings, loaded, embedder).answer(BILLING)
    assert not answer.abstained and answer.citations[0].location.slide == 9

    # The next successful build removes what the killed one left behind.
    build_index(settings, embedder)
    assert not left_over.exists()
    assert not list(builds.glob(f"{TMP_PREFIX}*"))


def test_every_listed_question_names_a_sentence_of_the_built_index(pipeline) -> None:  # type: ignore[no-untyped-def]
    """corpus/questions.json is reviewed like code: an entry the deck no longer has fails here."""
    from rag.sentence_questions import load_questions
    from tests.conftest import CORPUS

    index = pipeline.index
    present = [(c.location.place, s.text) for c in index.chunks for s in c.sentences]
    listed = load_questions(CORPUS)
    assert listed.unmatched(present) == []
    assert index.questions == listed  # what the build blended in, saved beside the vectors
