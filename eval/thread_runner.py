"""Ask gold threads through the system turn by turn, with the history a client would send.

For each thread the turns are asked in order; turn *n* goes with the history of turns
1..n-1 as the system answered them (each earlier question with the chunk ids its answer
cited), and each turn's standalone text is also asked on its own, with no history. The
answerer is a plain callable, so the loop runs on fakes in unit tests and on the real
pipeline in ``rag eval threads``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eval.metrics import Observation, SlideKey
from eval.runner import HarnessError, observe, slide_id
from eval.thread_metrics import TurnResult, score_turn
from eval.threads import GoldThread
from rag.datatypes import Turn


@dataclass(frozen=True, slots=True)
class Reply:
    """What the system did for one question of a thread."""

    observation: Observation
    cited_chunks: tuple[str, ...]
    """Chunk ids of the answer's citations, in citation order: the next turn's history."""
    context_turn: int | None
    """The earlier turn the system read the question with (index into the history), or None."""


ThreadAnswerer = Callable[[str, Sequence[Turn]], Reply]
"""``(question, history oldest first) -> Reply``."""


def pipeline_thread_answerer(pipeline: Any, top_k: int | None = None) -> ThreadAnswerer:
    """Answer in process with :meth:`rag.pipeline.Pipeline.answer` and its ``history``."""

    def answer(question: str, history: Sequence[Turn]) -> Reply:
        started = time.perf_counter()
        result = pipeline.answer(question, top_k, history=history)
        observation = observe(result, (time.perf_counter() - started) * 1000)
        return Reply(observation, tuple(c.chunk_id for c in result.citations), result.context_turn)

    return answer


def run_thread(
    thread: GoldThread, answerer: ThreadAnswerer, slide_key: SlideKey = slide_id
) -> list[TurnResult]:
    """Every turn of ``thread`` asked in thread and alone, and scored, in turn order."""
    history: list[Turn] = []
    results: list[TurnResult] = []
    for index, turn in enumerate(thread.turns):
        in_thread = answerer(turn.question, tuple(history))
        context = in_thread.context_turn
        if context is not None and not 0 <= context < len(history):
            raise HarnessError(
                f"{thread.id} turn {index + 1}: the system says it used earlier turn {context}, "
                f"but the history has {len(history)} turn(s)"
            )
        alone = answerer(turn.standalone, ())
        results.append(score_turn(thread, index, in_thread.observation, alone.observation, context, slide_key))
        history.append(Turn(question=turn.question, chunk_ids=in_thread.cited_chunks))
    return results


def run_threads(
    threads: Sequence[GoldThread],
    answerer: ThreadAnswerer,
    progress: Callable[[Iterable[GoldThread]], Iterable[GoldThread]] = lambda it: it,
) -> list[TurnResult]:
    """Every turn of every thread, in gold order."""
    return [result for thread in progress(threads) for result in run_thread(thread, answerer)]
