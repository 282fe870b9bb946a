"""Threads the service keeps for callers that send a ``conversation_id`` instead of the history.

Bounded on every side: at most ``MAX_CONVERSATIONS`` threads (the least recently used is
forgotten first), each forgotten after ``IDLE_SECONDS`` without a turn, and only its last
``MAX_TURNS`` turns kept. Ids are random (unguessable), so one caller cannot read another's
thread. Per worker process and in memory: a thread does not survive a restart, and with
``--workers N`` a caller that needs its thread on every request sends the history instead
(the page does). Only the event loop touches the store, so it needs no lock.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from rag.datatypes import Turn

MAX_CONVERSATIONS = 2000
IDLE_SECONDS = 30 * 60
MAX_TURNS = 10


@dataclass
class _Thread:
    turns: list[Turn]
    seen: float


class Conversations:
    def __init__(
        self,
        max_conversations: int = MAX_CONVERSATIONS,
        idle_seconds: float = IDLE_SECONDS,
        max_turns: int = MAX_TURNS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threads: OrderedDict[str, _Thread] = OrderedDict()
        self._max = max_conversations
        self._idle = idle_seconds
        self._max_turns = max_turns
        self._clock = clock

    def history(self, conversation_id: str) -> tuple[Turn, ...] | None:
        """The thread's turns, oldest first; None when the id is unknown or expired."""
        self._expire()
        thread = self._threads.get(conversation_id)
        return None if thread is None else tuple(thread.turns)

    def start(self) -> str:
        conversation_id = secrets.token_urlsafe(16)
        self._threads[conversation_id] = _Thread([], self._clock())
        self._trim()
        return conversation_id

    def add(self, conversation_id: str, turn: Turn) -> None:
        thread = self._threads.get(conversation_id)
        if thread is None:  # expired between the lookup and the answer: start it again
            thread = self._threads[conversation_id] = _Thread([], self._clock())
        thread.turns = [*thread.turns, turn][-self._max_turns :]
        thread.seen = self._clock()
        self._threads.move_to_end(conversation_id)
        self._trim()

    def __len__(self) -> int:
        return len(self._threads)

    def _expire(self) -> None:
        cutoff = self._clock() - self._idle
        while self._threads:
            oldest_id, oldest = next(iter(self._threads.items()))
            if oldest.seen >= cutoff:
                break
            del self._threads[oldest_id]

    def _trim(self) -> None:
        while len(self._threads) > self._max:
            self._threads.popitem(last=False)
