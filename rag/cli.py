"""``rag``: a thin command-line adapter over the pipeline.

Errors become one line on stderr and a non-zero exit code, never a traceback:
2 for a bad question, argument or setting; 1 for anything else that went wrong.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

from rag.config import Settings
from rag.corpus import LoadReport, load_corpus_report
from rag.datatypes import Answer, Chunk, Passage, Turn, to_dict
from rag.errors import ConfigError, InvalidQuestionError, RagError

FEEDBACK_DB = "feedback.sqlite3"
"""File name of the feedback database inside RAG_DATA_DIR."""

EXIT_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"rag: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rag", description="Answer seller questions from the CSP guidance, with cited slides.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("index", help="build the index (only if missing or stale, unless --force)")
    p.add_argument("--force", action="store_true", help="rebuild even if the index is current")
    p.add_argument("--strict", action="store_true",
                   help="fail if any corpus file cannot be indexed (unsupported, corrupt, encrypted, empty)")

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question")
    p.add_argument("-k", "--top-k", type=int, default=None, help="passages to consider (default 5)")
    p.add_argument("--json", action="store_true", help="print the full answer as JSON")

    p = sub.add_parser("chat", help="a conversation: questions from the terminal (or stdin), follow-ups in context")
    p.add_argument("-k", "--top-k", type=int, default=None, help="passages to consider (default 5)")

    p = sub.add_parser("search", help="show the ranked passages for a question")
    p.add_argument("question")
    p.add_argument("-k", "--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1 or RAG_HOST)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000 or RAG_PORT)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default 1)")
    p.add_argument("--watch", nargs="?", type=float, const=5.0, default=None, metavar="SECONDS",
                   help="rebuild and swap in the index when corpus files change (checked every 5 s)")
    p.add_argument("--allow-open", action="store_true",
                   help="serve without API keys on a non-loopback address (not recommended)")

    p = sub.add_parser("feedback", help="sellers' feedback on answers")
    p.add_argument("action", choices=("export",), help="export: write the feedback as JSONL")
    p.add_argument("--out", default="-", help="file to write (default: standard output)")
    p.add_argument("--unhelpful", action="store_true", help="only answers marked not helpful")

    p = sub.add_parser("eval", help="evaluate answers against the gold questions")
    p.add_argument("action", nargs="?", choices=("run", "calibrate", "threads"), default="run",
                   help="run (default), calibrate the abstention threshold on the dev set, or threads: "
                        "the follow-up question threads (default eval/gold/threads-test.jsonl)")
    p.add_argument("--gold", default=None, help="gold JSONL (default eval/gold/test.jsonl; dev for calibrate)")
    p.add_argument("--api", default=None, help="evaluate a running service at this URL instead")
    p.add_argument("--api-key", default=None, help="key for --api when the service requires one")
    p.add_argument("--gate", action="store_true", help="exit 1 on a missed threshold or a regression")
    p.add_argument("--out", default="eval/runs", help="folder for the run reports")
    p.add_argument("--save-baseline", action="store_true",
                   help="also copy this run's results.json and summary.md to eval/baseline/")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="rag: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("faiss", "faiss.loader", "sentence_transformers", "bm25s", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
        return _COMMANDS[args.command](args, settings)
    except (InvalidQuestionError, ConfigError) as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RagError as exc:
        print(f"rag: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


def _pipeline(settings: Settings, *, rebuild: bool = False):  # type: ignore[no-untyped-def]
    from rag.pipeline import Pipeline

    return Pipeline.from_settings(settings, rebuild=rebuild, progress=sys.stderr.isatty())


def _cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    started = time.perf_counter()
    # Read the corpus first: --strict fails before the model loads, and the summary needs
    # the reasons. Quietly: a (re)build warns about each skipped file itself.
    report = load_corpus_report(settings.corpus_dir, strict=args.strict, warn=False)
    pipeline = _pipeline(settings, rebuild=args.force)
    m = pipeline.manifest
    print(render_load_summary(report, pipeline.index.chunks))
    print(
        f"index {m.index_version}: {m.n_documents} document(s), {m.n_chunks} chunks, "
        f"{m.n_sentences} sentences, {m.index_type}, model {m.model_name}, tokens {m.tokenizer}\n"
        f"built {m.built_at} in {m.build_seconds:.1f} s; this command took "
        f"{time.perf_counter() - started:.1f} s (model load included)\n"
        f"at {pipeline.index.path}"
    )
    return 0


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.answering import validate_question

    validate_question(args.question, settings.server.max_question_chars)  # fail fast, before loading
    _check_k(args.top_k, 1, 20)
    answer = _pipeline(settings).answer(args.question, args.top_k)
    print(json.dumps(to_dict(answer), ensure_ascii=False, indent=2) if args.json else render_answer(answer))
    return 0


CHAT_HELP = "Ask a question; follow-ups are read with the thread. /new starts a new thread, /quit (or Ctrl-D) ends."
CHAT_TURNS = 10
"""Earlier turns sent with each question (the API's bound too)."""


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """A read-answer loop over stdin. A bad line (blank, too long) is one error line and the
    loop goes on; the thread keeps the last ``CHAT_TURNS`` turns."""
    from rag.answering import validate_question

    _check_k(args.top_k, 1, 20)
    pipeline = _pipeline(settings)
    interactive = sys.stdin.isatty()
    if interactive:
        print(CHAT_HELP)
    history: list[Turn] = []
    while True:
        if interactive:
            print("\nyou> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return 0
        text = line.strip()
        if text in ("/quit", "/exit"):
            return 0
        if text == "/new":
            history.clear()
            print("(new thread)")
            continue
        try:
            question = validate_question(text, settings.server.max_question_chars)
        except InvalidQuestionError as exc:
            print(f"rag: error: {exc}", file=sys.stderr)
            continue
        answer = pipeline.answer(question, args.top_k, tuple(history))
        if answer.context_turn is not None:
            print(f"(read as a follow-up to: {history[answer.context_turn].question})")
        print(render_answer(answer))
        history = [*history, Turn(question, tuple(c.chunk_id for c in answer.citations))][-CHAT_TURNS:]


def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from rag.answering import validate_question

    validate_question(args.question, settings.server.max_question_chars)
    _check_k(args.top_k, 1, 50)
    passages = _pipeline(settings).search(args.question, args.top_k)
    if args.json:
        print(json.dumps([to_dict(p) for p in passages], ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(render_passage(p) for p in passages) or "no passages")
    return 0


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from api.server import run

    server = settings.server
    if args.watch is not None:
        if args.watch <= 0:
            raise ConfigError(f"--watch takes a positive number of seconds, got {args.watch}")
        settings = replace(settings, server=replace(server, watch_seconds=args.watch))
    if settings.server.watch_seconds > 0 and (args.workers or server.workers) > 1:
        raise ConfigError("--watch works with one worker: each worker would rebuild the index on its own")
    if not settings.index.auto_rebuild:
        from rag.index import verify_index

        # It may not rebuild, so a damaged index would only ever be a 503: refuse to start
        # instead, naming the file (a few megabytes hashed; the model is not loaded).
        verify_index(settings.index_dir)
    run(
        settings,
        host=args.host or server.host,
        port=args.port or server.port,
        workers=args.workers or server.workers,
        allow_open=args.allow_open,
    )
    return 0


def _cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from rag.feedback import FeedbackStore

    store = FeedbackStore(settings.data_dir / FEEDBACK_DB)
    if args.out == "-":
        n = store.export_jsonl(sys.stdout, only_unhelpful=args.unhelpful)
    else:
        try:
            with open(args.out, "w", encoding="utf-8") as out:
                n = store.export_jsonl(out, only_unhelpful=args.unhelpful)
        except OSError as exc:
            raise ConfigError(f"--out {args.out} cannot be written ({exc.strerror})") from exc
    print(f"{n} feedback record(s) exported", file=sys.stderr)
    return 0


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from eval.cli import run_eval_command

    return run_eval_command(args, settings)


def _check_k(k: int | None, low: int, high: int) -> None:
    if k is not None and not low <= k <= high:
        raise ConfigError(f"-k/--top-k must be between {low} and {high}, got {k}")


def _place(source: str, slide: int | None, page: int | None) -> str:
    if slide is not None:
        return f"{source}, slide {slide}"
    return f"{source}, page {page}" if page is not None else source


def render_answer(answer: Answer) -> str:
    lines = textwrap.wrap(answer.text, width=100) or [answer.text]
    if answer.abstained:
        if answer.suggestions:
            lines += ["", "Closest topics in the guidance:"] + [f"  - {s}" for s in answer.suggestions]
        return "\n".join(lines)
    lines += ["", f"Sources (confidence {answer.confidence:.2f}):"]
    for c in answer.citations:
        where = " — ".join(x for x in (_place(c.source, c.slide, c.page), c.title, c.section) if x)
        lines.append(f"  [{c.n}] {where}")
        lines += textwrap.wrap(f"“{c.quote}”", width=96, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def render_load_summary(report: LoadReport, chunks: Iterable[Chunk]) -> str:
    """Files indexed with their chunk counts, then files skipped with the reason."""
    per_file = Counter(c.source for c in chunks)
    lines = [f"corpus: {len(report.documents)} file(s) indexed, {len(report.skipped)} skipped"]
    width = max((len(d.source) for d in report.documents), default=0)
    lines += [f"  {d.source:<{width}}  {per_file[d.source]:>5} chunks" for d in report.documents]
    lines += [f"  skipped {s.source}: {s.reason}" for s in report.skipped]
    return "\n".join(lines)


def render_passage(p: Passage) -> str:
    c = p.chunk
    head = " — ".join(x for x in (_place(c.source, c.slide, c.page), c.title, c.section) if x)
    body = textwrap.indent(textwrap.fill(c.text, width=96), "    ")
    scores = (f"{p.score:.4f}; cosine {p.dense_score or 0:.3f}; sentence {p.sentence_score or 0:.3f}; "
              f"bm25 {p.lexical_score or 0:.2f}")
    return f"{p.rank}. [{scores}] {head}\n{body}"


_COMMANDS = {
    "index": _cmd_index,
    "ask": _cmd_ask,
    "chat": _cmd_chat,
    "search": _cmd_search,
    "serve": _cmd_serve,
    "eval": _cmd_eval,
    "feedback": _cmd_feedback,
}
