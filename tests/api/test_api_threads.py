"""Follow-up questions over the API: a sent history, a kept conversation, and their bounds."""

from __future__ import annotations

from api.conversations import Conversations
from rag.datatypes import Turn


def test_history_reaches_the_pipeline_and_context_turn_comes_back(client, pipeline) -> None:  # type: ignore[no-untyped-def]
    history = [
        {"question": "My customer wants to move from CSP back to EA.", "chunk_ids": ["csp-for-sellers.md#s8-c1"]}
    ]
    r = client.post("/v1/answer", json={"question": "Should I tell the partner?", "history": history})
    assert r.status_code == 200, r.text
    assert r.json()["context_turn"] == 0
    assert pipeline.histories[-1] == (Turn(history[0]["question"], ("csp-for-sellers.md#s8-c1",)),)
    alone = client.post("/v1/answer", json={"question": "Should I tell the partner?"})
    assert alone.json()["context_turn"] is None and pipeline.histories[-1] == ()


def test_a_kept_conversation_carries_its_turns(client, pipeline) -> None:  # type: ignore[no-untyped-def]
    first = client.post("/v1/answer", json={"question": "What about an upcoming EA renewal?"}).json()
    cid = first["conversation_id"]
    second = client.post("/v1/answer", json={"question": "and the partner?", "conversation_id": cid}).json()
    assert second["conversation_id"] == cid and second["context_turn"] == 0
    kept = pipeline.histories[-1]
    assert [t.question for t in kept] == ["What about an upcoming EA renewal?"]
    assert kept[0].chunk_ids == tuple(c["chunk_id"] for c in first["citations"])
    third = client.post("/v1/answer", json={"question": "and then?", "conversation_id": cid}).json()
    assert third["context_turn"] == 1 and len(pipeline.histories[-1]) == 2


def test_unknown_conversation_is_a_404_and_bad_history_a_4xx(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/answer", json={"question": "and the partner?", "conversation_id": "nope"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"
    too_many = [{"question": f"q{i}"} for i in range(11)]
    assert client.post("/v1/answer", json={"question": "x y", "history": too_many}).status_code == 422
    blank = [{"question": "   "}]
    r = client.post("/v1/answer", json={"question": "and the partner?", "history": blank})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_question"
    r = client.post("/v1/answer", json={"question": "x y", "history": [{"question": "q", "ids": []}]})
    assert r.status_code == 422  # unknown field in a turn


def test_the_store_is_bounded_and_forgets_idle_threads() -> None:
    now = [0.0]
    store = Conversations(max_conversations=2, idle_seconds=60, max_turns=3, clock=lambda: now[0])
    a = store.start()
    for i in range(5):
        store.add(a, Turn(f"q{i}"))
    assert [t.question for t in store.history(a) or ()] == ["q2", "q3", "q4"]  # the last 3 turns
    b, c = store.start(), store.start()
    assert store.history(a) is None and len(store) == 2  # the least recently used went first
    now[0] = 61
    assert store.history(b) is None and store.history(c) is None and len(store) == 0
