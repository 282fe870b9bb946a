"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

The app runs in process (ASGI, no socket) with the fake pipeline of ``conftest.py``, API
keys and admin keys configured, so every operation, ``/v1/admin`` included, is exercised
behind its key. Schemathesis generates valid and invalid requests (its examples, coverage
and fuzzing phases) and checks every response: no 5xx, a documented status code, a
documented content type, headers and a body that match the schema, and a 401 when the
key is left out.

The default run is bounded (``MAX_EXAMPLES`` per operation and phase) to stay well under a
minute; :func:`test_the_run_generated_enough_cases` asserts it still generated at least
:data:`MIN_CASES` cases and prints the count per operation. A longer run, e.g. before a
release::

    FUZZ_MAX_EXAMPLES=1000 python -m pytest tests/api/test_api_fuzz.py -q -rA

``FUZZ_SEED`` replays a run with the same seed (the default seed is fixed, so a failure
in CI reproduces locally).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from api.app import create_app  # noqa: E402
from tests.api.conftest import FakePipeline, make_settings  # noqa: E402

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "40"))
"""Examples per operation in the fuzzing phase (the coverage and examples phases add theirs)."""
SEED = int(os.environ.get("FUZZ_SEED", "20250819"))
MIN_CASES = 500
API_KEY = "fuzz-api-key-0123456789"
ADMIN_KEY = "fuzz-admin-key-9876543210"

CASES: Counter[str] = Counter()
"""Requests sent, by operation label (``POST /v1/answer``)."""


def fuzz_schema() -> Any:
    """The app with the fake pipeline, keys and admin keys; its schema as schemathesis sees it.

    Built at import: ``schema.parametrize()`` needs the operations at collection time
    (``schemathesis.pytest.from_fixture`` would defer this, but it breaks on pytest 9).
    The feedback database goes to a temporary folder removed when the process exits.
    """
    pipeline = FakePipeline()
    settings = replace(make_settings(api_keys=(API_KEY,), admin_keys=(ADMIN_KEY,)), data_dir=Path(_DATA))
    app = create_app(settings, pipeline, rebuild=lambda *_: pipeline)
    loaded = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    loaded.config.seed = SEED
    loaded.config.generation.update(max_examples=MAX_EXAMPLES, database="none")
    # An invalid body can also be too big (a 20,001-character answer of escaped characters):
    # 413 is a rejection too, and a documented one.
    rejection = loaded.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return loaded


_DATA = tempfile.mkdtemp(prefix="rag-fuzz-")
atexit.register(shutil.rmtree, _DATA, ignore_errors=True)
schema = fuzz_schema()


def key_for(path: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY if path.startswith('/v1/admin') else API_KEY}"}


@schema.parametrize()
def test_every_response_conforms_to_the_schema(case: Any) -> None:
    CASES[case.operation.label] += 1
    case.call_and_validate(headers=key_for(case.operation.path))


def test_the_run_generated_enough_cases(capsys: pytest.CaptureFixture[str]) -> None:
    operations = [op.ok().label for op in schema.get_all_operations()]
    if not CASES:
        pytest.skip("the fuzz test did not run in this session (run the whole module)")
    summary = ", ".join(f"{label}: {CASES[label]}" for label in operations)
    with capsys.disabled():
        print(f"\nschemathesis: {sum(CASES.values())} cases ({summary})")
    assert set(operations) <= set(CASES), "an operation got no case"
    assert sum(CASES.values()) >= MIN_CASES
