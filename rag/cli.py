"""``rag``: a thin command-line adapter over the pipeline.

Errors become one line on stderr and a non-zero exit code, never a traceback:
2 for a bad question, argument or setting; 1 for anything else that went wrong.

The core's own subcommands are defined here. The ones built on the outer packages
(``serve`` in ``api/commands.py``, ``eval`` in ``eval/commands.py``) register themselves
as :class:`Command` objects under the :data:`COMMAND_GROUP` entry-point group in
``pyproject.toml``, and are found in the installed package's metadata: ``rag/`` never
imports ``api/`` or ``eval/``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points

from rag.config import Settings
from rag.corpus import LoadReport, load_corpus_report
from rag.datatypes import Answer, Chunk, Passage, Turn, to_dict
from rag.errors import ConfigError, InvalidQuestionError, RagError
from rag.feedback import export_jsonl, open_feedback_store

EXIT_ERROR = 1
EXIT_USAGE = 2

COMMAND_GROUP = "rag.commands"
"""Entry-point group of the subcommands other packages add; each entry point is named as
its command and points at a :class:`Command`."""


@dataclass(frozen=True)
class Command:
    """One ``rag`` subcommand: how ``rag --help`` lists it, its arguments, what it runs.

    ``run`` is called inside :func:`main`'s error handling with the parsed arguments and
    ``Settings.from_env()``; it returns the exit code. A ``ConfigError`` or
    ``InvalidQuestionError`` it raises exits 2, any other ``RagError`` 1, with one line.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Settings], int]
    position: int
    """Place in ``rag --help`` and in the usage line. The core's commands are index 10,
    ask 20, chat 30, search 40 and feedback 60; ``serve`` is 50 and ``eval`` 70."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"rag: error: {message} (see `{self.prog} --help`)\n")


def registered_commands() -> list[Command]:
    """The commands installed packages register under :data:`COMMAND_GROUP`.

    Raises:
        TypeError: an entry point is not a :class:`Command` of its own name (a packaging bug).
    """
    found = []
    for ep in entry_points(group=COMMAND_GROUP):
        command = ep.load()
        if not isinstance(command, Command) or command.name != ep.name:
            raise TypeError(f"entry point {ep.name} = {ep.value} in {COMMAND_GROUP} is not a Command named {ep.name!r}")
        found.append(command)
    return found


def all_commands() -> list[Command]:
    """The core's commands and the registered ones, in their ``rag --help`` order.

    Raises:
        TypeError: two commands have one name (a packaging bug).
    """
    commands = [*CORE_COMMANDS, *registered_commands()]
    names = [c.name for c in commands]
    if twice := sorted({n for n in names if names.count(n) > 1}):
        raise TypeError(f"more than one `rag` command is named {', '.join(twice)}")
    return sorted(commands, key=lambda c: (c.position, c.name))


def build_parser(commands: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    """The ``rag`` parser with ``commands`` (default :func:`all_commands`) as subcommands."""
    parser = _Parser(prog="rag", description="Answer seller questions from the CSP guidance, with cited slides.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in all_commands() if commands is None else commands:
        command.add_arguments(sub.add_parser(command.name, help=command.help))
    return parser


def _index_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="rebuild even if the index is current")
    p.add_argument("--strict", action="store_true",
                   help="fail if any corpus file cannot be indexed (unsupported, corrupt, encrypted, empty)")


def _ask_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("question")
    p.add_argument("-k", "--top-k", type=int, default=None, help="passages to consider (default 5)")
    p.add_argument("--json", action="store_true", help="print the full answer as JSON")


def _chat_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", "--top-k", type=int, default=None, help="passages to consider (default 5)")


def _search_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("question")
    p.add_argument("-k", "--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true")


def _feedback_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("export",), help="export: write the feedback as JSONL")
    p.add_argument("--out", default="-", help="file to write (default: standard output)")
    p.add_argument("--unhelpful", action="store_true", help="only answers marked not helpful")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`rag ask … | head -1`): it had what it wanted. Without this,
        # Python prints a traceback here and again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR


def _main(argv: Sequence[str] | None) -> int:
    commands = {c.name: c for c in all_commands()}
    args = build_parser(list(commands.values())).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="rag: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("faiss", "faiss.loader", "sentence_transformers", "bm25s", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
        return commands[args.command].run(args, settings)
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
        f"at {pipeline.index.path or _store_place(settings, pipeline.index.store_version)}"
    )
    return 0


def _store_place(settings: Settings, version: int | None) -> str:
    from rag.store import open_store

    return f"{open_store(settings).describe()}, version {version}"


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


def _cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    store = open_feedback_store(settings)
    if args.out == "-":
        n = export_jsonl(store.all(), sys.stdout, only_unhelpful=args.unhelpful)
    else:
        try:
            with open(args.out, "w", encoding="utf-8") as out:
                n = export_jsonl(store.all(), out, only_unhelpful=args.unhelpful)
        except OSError as exc:
            raise ConfigError(f"--out {args.out} cannot be written ({exc.strerror})") from exc
    print(f"{n} feedback record(s) exported", file=sys.stderr)
    return 0


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
        loc = c.location
        where = " — ".join(x for x in (_place(loc.source, loc.slide, loc.page), loc.title, loc.section) if x)
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


CORE_COMMANDS = (
    Command("index", "build the index (only if missing or stale, unless --force)", _index_arguments, _cmd_index, 10),
    Command("ask", "answer a question with citations", _ask_arguments, _cmd_ask, 20),
    Command("chat", "a conversation: questions from the terminal (or stdin), follow-ups in context",
            _chat_arguments, _cmd_chat, 30),
    Command("search", "show the ranked passages for a question", _search_arguments, _cmd_search, 40),
    Command("feedback", "sellers' feedback on answers", _feedback_arguments, _cmd_feedback, 60),
)
