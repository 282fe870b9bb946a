"""Wire types: the HTTP contract, separate from the core's records.

The core may rename or add fields freely; these structs change only with the API
version (``/v1``). :mod:`api.mapping` converts core records into them at the edge.
Request structs forbid unknown fields, so a typo such as ``topk`` is a 422, not a
silently ignored option. Field examples feed the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

from msgspec import Meta, Struct

_QUESTION = "What should I do when a CSP customer has an upcoming EA renewal?"

NOT_BLANK = (
    r"[^\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)
"""A character that is not white space, spelled so that Python and JSON Schema (ECMA-262)
read it alike: their ``\\s`` differ (Python's also covers U+001C-U+001F and U+0085,
ECMA's also U+FEFF), so the class lists the union of both. A question must contain one."""

Question = Annotated[
    str,
    Meta(
        min_length=1,
        description=(
            "The question, in any language or script. Must not be blank (and the index answers "
            "only text with a letter or a digit in it); at most `max_question_chars` characters "
            "(2,000 by default), not counting surrounding white space."
        ),
        examples=[_QUESTION],
        # Documented, not enforced by msgspec: a blank question is an `invalid_question`
        # (api.bodies.checked_question), not a schema error. Litestar copies "extra" into the schema.
        extra_json_schema={"extra": {"pattern": NOT_BLANK}},
    ),
]
AnswerTopK = Annotated[
    int,
    Meta(
        ge=1,
        le=20,
        description="Passages to draw the answer from (server default when absent).",
        examples=[5],
    ),
]
SearchTopK = Annotated[int, Meta(ge=1, le=50, description="Passages to return.", examples=[10])]


class TurnIn(Struct, frozen=True, forbid_unknown_fields=True):
    """An earlier turn of the thread: its question and the chunk ids its answer cited."""

    question: Question
    chunk_ids: Annotated[
        list[Annotated[str, Meta(max_length=200)]],
        Meta(max_length=20, description="`chunk_id` of each citation of that turn's answer.",
             examples=[["csp-for-sellers-s11-bf90f8a7da"]]),
    ] = []


class AnswerRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """A question to answer from the indexed documents, alone or as the next turn of a thread."""

    question: Question
    top_k: AnswerTopK | None = None
    history: (
        Annotated[
        list[TurnIn],
        Meta(
            max_length=10,
            description=(
                "The thread's earlier turns, oldest first (at most 10). A follow-up question "
                "(\"should I tell the partner?\") is read with the turn it leans on; the response's "
                "`context_turn` says which. When sent, it is the thread (it replaces the turns kept "
                "under `conversation_id`)."
            ),
            examples=[[{"question": "My customer wants to move from CSP back to EA.",
                        "chunk_ids": ["csp-for-sellers-s11-630026d04d"]}]],
        ),
        ]
        | None
    ) = None
    conversation_id: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=64,
                description=(
                    "Continue a thread the service keeps: the `conversation_id` of an earlier "
                    "response. Threads are kept 30 minutes after their last turn, 10 turns each."
                ),
                # null: "Try it out" in the docs must not send an id the server never issued (a 404)
                examples=[None],
            ),
        ]
        | None
    ) = None


class SearchRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """A question whose best-matching passages should be returned, without an answer."""

    question: Question
    top_k: SearchTopK = 10


class LocationOut(TypedDict):
    """The wire form of a :class:`rag.datatypes.Location`: where a passage is in the corpus.

    Its fields are those of :class:`CitationOut` and :class:`SearchHit`, flat among their
    own (the ``/v1`` contract has no nested location); :func:`api.mapping.location_fields`
    fills them for both.
    """

    source: str
    slide: int | None
    page: int | None
    title: str
    section: str | None


class CitationOut(Struct, frozen=True):
    """Where part of the answer came from; ``n`` matches the ``[n]`` marker in the answer."""

    n: Annotated[int, Meta(examples=[1])]
    chunk_id: Annotated[str, Meta(examples=["csp-for-sellers-s8-28719251ff"])]
    source: Annotated[str, Meta(description="Document path inside the corpus.", examples=["csp-for-sellers.md"])]
    slide: Annotated[int | None, Meta(examples=[8])]
    page: Annotated[int | None, Meta(examples=[None])]
    title: Annotated[str, Meta(examples=["Scenario 5: Customer has an upcoming EA renewal"])]
    section: Annotated[str | None, Meta(examples=["What should the seller do?"])]
    quote: Annotated[str, Meta(examples=["If the customer wants to purchase via the Enterprise Agreement, ..."])]
    score: Annotated[float, Meta(examples=[0.71])]


class AnswerResponse(Struct, frozen=True):
    """An answer with citations, or an abstention (``abstained``) with suggested topics."""

    answer: Annotated[
        str,
        Meta(
            description="Answer text with [n] citation markers; empty or an explanation when abstaining.",
            examples=["Define the customer's needs, then outline the purchasing options objectively [1]."],
        ),
    ]
    abstained: Annotated[bool, Meta(description="True when the documents do not answer the question.")]
    confidence: Annotated[float, Meta(ge=0.0, le=1.0, examples=[0.74])]
    citations: list[CitationOut]
    suggestions: Annotated[
        list[str], Meta(description="Nearby topics, offered when abstaining.", examples=[["Scenario 5"]])
    ]
    index_version: Annotated[str, Meta(examples=["733781a321fa"])]
    timing_ms: Annotated[dict[str, float], Meta(examples=[{"retrieve": 12.5, "answer": 30.1, "total": 43.0}])]
    context_turn: Annotated[
        int | None,
        Meta(
            description=(
                "0-based index in the thread's history of the earlier turn this question was read "
                "with (a follow-up); null when it was answered on its own."
            ),
            examples=[0],
        ),
    ] = None
    conversation_id: Annotated[
        str | None,
        Meta(description="The thread this turn was stored in; send it back to continue the thread.",
             examples=["Jk3v0q9dQ2m1Zx7wK4s8Pg"]),
    ] = None


class SearchHit(Struct, frozen=True):
    """One retrieved passage."""

    rank: Annotated[int, Meta(ge=1, examples=[1])]
    score: Annotated[float, Meta(examples=[0.032])]
    chunk_id: Annotated[str, Meta(examples=["csp-for-sellers-s8-28719251ff"])]
    source: Annotated[str, Meta(examples=["csp-for-sellers.md"])]
    slide: Annotated[int | None, Meta(examples=[8])]
    page: Annotated[int | None, Meta(examples=[None])]
    title: Annotated[str, Meta(examples=["Scenario 5: Customer has an upcoming EA renewal"])]
    section: Annotated[str | None, Meta(examples=["What should the seller do?"])]
    text: Annotated[str, Meta(examples=["Define customer needs, then apply guidance to identify ..."])]


class SearchResponse(Struct, frozen=True):
    """Passages ranked best first."""

    results: list[SearchHit]
    index_version: Annotated[str, Meta(examples=["733781a321fa"])]


class PartOut(Struct, frozen=True):
    """One slide or page of a document."""

    slide: Annotated[int | None, Meta(examples=[8])]
    page: Annotated[int | None, Meta(examples=[None])]
    title: Annotated[str, Meta(examples=["Scenario 5: Customer has an upcoming EA renewal"])]
    scenario: Annotated[str | None, Meta(examples=["Customer has an upcoming EA renewal"])]
    text: str


class SourceOut(Struct, frozen=True):
    """A document with its slides or pages."""

    source: Annotated[str, Meta(examples=["csp-for-sellers.md"])]
    title: Annotated[str, Meta(examples=["CSP for Sellers"])]
    parts: list[PartOut]


class SourcesResponse(Struct, frozen=True):
    """Every indexed document."""

    sources: list[SourceOut]
    index_version: Annotated[str, Meta(examples=["733781a321fa"])]


Text = Annotated[str, Meta(max_length=4000)]
"""A short piece of text echoed back from an answer (title, section, quote, id)."""


Comment = Annotated[str, Meta(max_length=2000, description="Optional free text (at most 2,000 characters).")]


class FeedbackCitation(Struct, frozen=True, forbid_unknown_fields=True):
    """A citation of the answer, echoed back as the seller saw it (see :class:`CitationOut`)."""

    n: Annotated[int, Meta(ge=1, le=100, examples=[1])]
    source: Annotated[str, Meta(min_length=1, max_length=500, examples=["csp-for-sellers.md"])]
    slide: Annotated[int, Meta(ge=0, examples=[9])] | None = None
    page: Annotated[int, Meta(ge=0)] | None = None
    chunk_id: Annotated[str, Meta(max_length=500)] = ""
    title: Text = ""
    section: Text | None = None
    quote: Text = ""
    score: float | None = None


class FeedbackRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """A seller's verdict on one answer, with the answer as they saw it."""

    question: Question
    answer: Annotated[str, Meta(max_length=20_000, description="The answer text as shown, [n] markers included.")]
    abstained: bool
    citations: Annotated[list[FeedbackCitation], Meta(max_length=50)]
    index_version: Annotated[str, Meta(min_length=1, max_length=200, examples=["733781a321fa"])]
    helpful: Annotated[bool, Meta(description="true: helpful; false: not helpful.")]
    comment: Comment | None = None


class FeedbackResponse(Struct, frozen=True):
    """The feedback was stored durably (committed to disk) under ``id``."""

    id: Annotated[int, Meta(ge=1, examples=[17])]
    created_at: Annotated[str, Meta(examples=["2025-08-19T17:41:03.120+00:00"])]


class HealthResponse(Struct, frozen=True):
    """The process is up (says nothing about the index)."""

    status: Annotated[str, Meta(examples=["ok"])]


class ReadyResponse(Struct, frozen=True):
    """The index and model are loaded; a summary of the index manifest."""

    status: Annotated[str, Meta(examples=["ready"])]
    index_version: Annotated[str, Meta(examples=["733781a321fa"])]
    model: Annotated[str, Meta(examples=["all-MiniLM-L6-v2"])]
    n_chunks: Annotated[int, Meta(examples=[42])]
    n_documents: Annotated[int, Meta(examples=[1])]
    built_at: Annotated[str, Meta(examples=["2025-08-19T17:40:00+00:00"])]


class ReindexRequest(Struct, frozen=True, forbid_unknown_fields=True):
    """Options of an admin reindex; the body may be left out altogether."""

    force: Annotated[bool, Meta(description="Rebuild even when the corpus and settings are unchanged.")] = False


class ReindexStatusResponse(Struct, frozen=True):
    """The last (or the running) reindex, and the index being served now."""

    state: Annotated[
        Literal["idle", "running", "succeeded", "failed"],
        Meta(description="Of the last reindex.", examples=["running"]),
    ]
    reason: Annotated[str | None, Meta(examples=["admin request"])]
    started_at: Annotated[str | None, Meta(examples=["2025-08-19T17:40:00+00:00"])]
    finished_at: Annotated[str | None, Meta(examples=[None])]
    seconds: Annotated[float | None, Meta(description="How long the last reindex took.", examples=[None])]
    index_version_before: Annotated[str | None, Meta(examples=["733781a321fa"])]
    index_version_after: Annotated[str | None, Meta(examples=[None])]
    error: Annotated[str | None, Meta(description="Why the last reindex failed.", examples=[None])]
    swaps: Annotated[int, Meta(ge=0, description="Indexes swapped in since start-up.", examples=[0])]
    serving_index_version: Annotated[str | None, Meta(examples=["733781a321fa"])]


class ErrorBody(Struct, frozen=True):
    """What went wrong. ``code`` is stable and machine-readable; ``message`` is for people."""

    status: Annotated[int, Meta(examples=[422])]
    code: Annotated[str, Meta(examples=["invalid_question"])]
    message: Annotated[str, Meta(examples=["the question is blank"])]
    request_id: Annotated[str, Meta(description="Echoes the X-Request-ID response header.", examples=["3b0c9d2e"])]


class ErrorResponse(Struct, frozen=True):
    """The one shape of every error response (4xx and 5xx) of every endpoint."""

    error: ErrorBody
