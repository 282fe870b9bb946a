"""Acknowledged feedback survives writers racing each other and being SIGKILLed mid-write.

Several writer processes (two threads each) add feedback to one SQLite store in a loop
and print each id once ``FeedbackStore.add`` has returned, i.e. once the API would have
answered 201. All of them are SIGKILLed, most likely in the middle of a write, after
enough acknowledgements. Then every acknowledged id must be in the store with what was
written, and the database must pass ``PRAGMA integrity_check``.

SIGKILL is a process crash: the operating system still holds what was written. That
``synchronous=FULL`` also survives a power cut is SQLite's promise, not tested here.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

from rag.feedback import Feedback, FeedbackStore
from tests.conftest import ROOT

WRITERS = 3
ACKS_BEFORE_KILL = 150
"""Acknowledgements per writer before the kill (the writers keep writing until then)."""

WRITER = """
import sys, threading
from pathlib import Path
from rag.feedback import Feedback, FeedbackStore

store = FeedbackStore(Path(sys.argv[1]))
writer = sys.argv[2]
printing = threading.Lock()

def write(thread):
    n = 0
    while True:
        n += 1
        saved = store.add(Feedback(
            helpful=n % 2 == 0, question=f"{writer}/{thread}/{n}", answer="a" * 500, abstained=False,
            citations=[{"n": 1, "source": "csp-for-sellers.md", "slide": 9}], index_version="v1",
        ))
        with printing:
            print(saved.id, saved.question, flush=True)

for t in range(2):
    threading.Thread(target=write, args=(t,), daemon=True).start()
threading.Event().wait()
"""


def test_acknowledged_feedback_survives_concurrent_writers_killed_mid_write(tmp_path: Path) -> None:
    db = tmp_path / "feedback.sqlite3"
    FeedbackStore(db)  # created (WAL mode) before the writers race to open it
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), f"w{i}"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(WRITERS)
    ]
    acked: dict[int, str] = {}
    lock = threading.Lock()
    enough = [threading.Event() for _ in writers]

    def read_acks(i: int, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for count, line in enumerate(process.stdout, start=1):  # until the pipe closes (the writer is dead)
            record_id, question = line.split()
            with lock:
                acked[int(record_id)] = question
            if count >= ACKS_BEFORE_KILL:
                enough[i].set()

    readers = [threading.Thread(target=read_acks, args=(i, p)) for i, p in enumerate(writers)]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 60
        for i, event in enumerate(enough):
            assert event.wait(max(0.0, deadline - time.monotonic())), writers[i].stderr.read()  # type: ignore[union-attr]
    finally:
        for process in writers:
            process.send_signal(signal.SIGKILL)  # all at once, while they are still writing
        for process in writers:
            assert process.wait(30) == -signal.SIGKILL
        for reader in readers:
            reader.join(30)
        for process in writers:
            for stream in (process.stdout, process.stderr):
                if stream:
                    stream.close()

    assert len(acked) >= WRITERS * ACKS_BEFORE_KILL
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = dict(conn.execute("SELECT id, question FROM feedback").fetchall())
    missing = {i: q for i, q in acked.items() if stored.get(i) != q}
    assert missing == {}, f"{len(missing)} acknowledged records lost or changed"
    # Each writer's thread wrote 1, 2, 3, ... in order: acknowledged or not, no gaps before the last one.
    for writer in range(WRITERS):
        for thread in range(2):
            numbers = sorted(int(q.rsplit("/", 1)[1]) for q in stored.values() if q.startswith(f"w{writer}/{thread}/"))
            assert numbers == list(range(1, len(numbers) + 1))
    # And the store is still usable by the service, numbering on from the last record.
    after = FeedbackStore(db).add(
        Feedback(helpful=True, question="after", answer="a", abstained=False, citations=[], index_version="v1")
    )
    assert after.id == max(stored) + 1
