"""The `rag` command line. Settings are built here, once, and passed down."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.config import PACKAGE_ROOT, Settings
from rag.errors import (
    ConfigError,
    InvalidArgumentError,
    InvalidQuestionError,
    RagError,
)
from rag.schema import IngestReport
from rag.terminal import (
    format_answer,
    format_timeline,
    hardening_lines,
    plural,
    shown,
    terminal_width,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EVALS = PACKAGE_ROOT / "evals"
LLM_CHOICES = ("none", "openai", "local")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Answer questions about news articles, every sentence cited to its source.",
    )
    parser.add_argument("--home", help="data directory (default: $RAG_HOME or ./.rag)")
    parser.add_argument("--llm", choices=LLM_CHOICES, type=str.lower,
                        help="answer with: none (extractive), openai (an OpenAI-compatible "
                        "endpoint) or local (the in-process model); default: $RAG_LLM")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser(
        "ingest", help="index a file or folder of articles, or a feed's or a page's URL")
    ingest.add_argument("path", nargs="*",
                        help="files, folders, or URLs of RSS/Atom feeds and article pages")
    ingest.add_argument("--from-file", type=Path, metavar="FILE",
                        help="URLs to fetch, one a line (# comments)")
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")

    ask = commands.add_parser("ask", help="answer a question with cited sources")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=None, help="passages to retrieve (default 5)")
    ask.add_argument("--source", action="append", help="only this outlet (repeatable)")
    ask.add_argument("--after", help="only articles published on or after YYYY-MM-DD")
    ask.add_argument("--before", help="only articles published on or before YYYY-MM-DD")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("--no-llm", action="store_true",
                     help="answer extractively even when an LLM is configured")
    _llm_option(ask)

    timeline = commands.add_parser(
        "timeline", help="the dated, cited sentences about a subject, oldest first")
    timeline.add_argument("query")
    timeline.add_argument("-k", type=int, default=None,
                          help="passages to read (default 10)")
    timeline.add_argument("--source", action="append", help="only this outlet (repeatable)")
    timeline.add_argument("--after", help="only articles published on or after YYYY-MM-DD")
    timeline.add_argument("--before", help="only articles published on or before YYYY-MM-DD")
    timeline.add_argument("--json", action="store_true", help="print the entries as JSON")

    chat = commands.add_parser("chat", help="a conversation in the terminal, with follow-ups")
    chat.add_argument("-k", type=int, default=None, help="passages to retrieve (default 5)")
    chat.add_argument("--no-llm", action="store_true")
    _llm_option(chat)

    stats = commands.add_parser("stats", help="documents, chunks, data directory, model")
    stats.add_argument("--json", action="store_true")

    documents = commands.add_parser("docs", help="list indexed documents")
    documents.add_argument("--json", action="store_true")

    delete = commands.add_parser("delete", help="remove a document by id")
    delete.add_argument("doc_id")

    commands.add_parser("reindex", help="rebuild all chunks from the stored documents")

    serve = commands.add_parser("serve", help="web UI: chat with cited answers, manage the corpus")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default: this machine only)")
    serve.add_argument("--port", type=int, default=7860,
                       help="port to listen on (default: %(default)s)")
    serve.add_argument("--home", default=argparse.SUPPRESS,
                       help="data directory (same as the global --home)")
    serve.add_argument("--auth", metavar="USER:PASSWORD",
                       help="require this login (better: set RAG_UI_AUTH, not visible in ps)")
    _llm_option(serve)

    evaluate = commands.add_parser(
        "eval", help="score answers on a gold set; write metrics.json, results.jsonl, report.html"
        " (or, with --dated DIR, on dated questions: dated.json)")
    asked = evaluate.add_mutually_exclusive_group()
    asked.add_argument("--dataset", type=Path, default=EVALS / "gold" / "seed.jsonl",
                       help="gold questions, JSON lines (default: evals/gold/seed.jsonl)")
    asked.add_argument("--dated", type=Path, metavar="DIR",
                       help="instead of the gold set: dated questions (a day, a month, "
                       "'before', 'the latest') on a MultiHop-RAG-style folder "
                       "(articles.jsonl, queries.jsonl), its articles and their re-published "
                       "updates indexed in a temporary data directory with these settings "
                       "(not --home's index); prints right per kind for all, fit "
                       "and held_out, writes dated.json into --out; the gold-set options "
                       "are not used")
    evaluate.add_argument("--out", type=Path, default=None,
                          help="output folder (default: evals/runs/<timestamp>)")
    evaluate.add_argument("--baseline", type=Path,
                          default=EVALS / "results" / "baseline" / "metrics.json",
                          help="metrics.json to compare with (default: the committed baseline)")
    evaluate.add_argument("--thresholds", type=Path, default=EVALS / "thresholds.toml",
                          help="minimums, in the section named after the dataset's file stem")
    evaluate.add_argument("--corpus", type=Path, default=PACKAGE_ROOT / "corpus",
                          help="ingested first when nothing is indexed (default: corpus/)")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")
    evaluate.add_argument("--llm-judge", action="store_true",
                          help="also score faithfulness with the configured LLM (RAGAS-style)")
    _llm_option(evaluate)
    return parser


def _llm_option(command: argparse.ArgumentParser) -> None:
    # Also after the command (`rag ask --llm local ...`), like the global option.
    command.add_argument("--llm", choices=LLM_CHOICES, type=str.lower, default=argparse.SUPPRESS,
                         help="none, openai or local (same as the global --llm)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(home=Path(args.home) if args.home else None,
                                     llm=args.llm)
        return _run(args, settings)
    except (InvalidQuestionError, InvalidArgumentError, ConfigError) as exc:
        print(f"rag: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RagError as exc:
        print(f"rag: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `rag docs | head` closed the pipe: what was wanted has been printed. Point stdout
        # at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        if argv is None:
            # Run as the `rag` program, the interpreter is about to exit: its final
            # garbage collections would walk every object Chroma's import created (0.3 s
            # of a 1.3 s `rag ask`). Frozen objects are skipped; finalizers still run.
            import gc

            gc.freeze()


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from rag.assistant import Assistant

    if args.command in {"ask", "timeline"}:
        # Validate before loading the model so a typo costs nothing.
        from rag.validation import validate_question

        validate_question(args.question if args.command == "ask" else args.query)
    if args.command == "serve":
        auth = _parse_auth(args.auth or os.environ.get("RAG_UI_AUTH"))
        from ui.app import require_password, serve

        require_password(args.host, auth)  # before the model loads: a typo costs nothing

        assistant = Assistant(settings=settings)
        assistant.check()
        if settings.llm == "local" and assistant.generator is not None:
            _warm_in_background(assistant.generator)
        serve(assistant, settings, host=args.host, port=args.port, auth=auth)
        return EXIT_OK
    assistant = Assistant(settings=settings)
    if args.command in {"ask", "timeline", "chat", "docs", "stats"}:
        # A half-written index answers wrongly; say so and how to repair it.
        assistant.check()
    if args.command == "ingest":
        return _ingest(assistant, args)
    if args.command == "ask":
        events = assistant.ask_stream(args.question, k=args.k, filters=_filters(args),
                                      use_llm=not args.no_llm)
        answer = _follow(events, show=_shows_draft(assistant, args))
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        else:
            print(format_answer(answer, width=terminal_width(),
                                names=assistant.source_names(answer)))
        return EXIT_OK
    if args.command == "timeline":
        entries = assistant.timeline(args.query, k=args.k, filters=_filters(args))
        if args.json:
            print(json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=2))
        else:
            print(format_timeline(entries, width=terminal_width()))
        return EXIT_OK
    if args.command == "chat":
        return _chat(assistant, args)
    if args.command == "eval":
        return _eval(assistant, args)
    if args.command == "stats":
        stats = assistant.stats()
        if args.json:
            print(json.dumps(stats, indent=2))
        else:
            for key, value in stats.items():
                print(f"{key:>16}: {value}")
        return EXIT_OK
    if args.command == "docs":
        rows = assistant.documents()
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        elif not rows:
            print(f"Nothing is indexed in {assistant.stats()['chroma']} yet; "
                  f"add articles with `rag ingest PATH`.")
        else:
            by_id = {row["doc_id"]: row for row in rows}
            for row in rows:
                title = shown(row["title"] or Path(row["path"]).name)
                print(f"{row['doc_id']}  {row['published_at'][:10]:10}  "
                      f"{shown(row['source'])[:20]:20}  "
                      f"{plural(row['chunks'], 'chunk'):>10}  {title}")
                for copy in row.get("copies", []):
                    print(f"{'':16}  same text also in {shown(copy)}")
                if row["story_mates"]:
                    print(f"{'':16}  same story as " + ", ".join(
                        f"{d} ({shown(by_id[d]['source'] or Path(by_id[d]['path']).name)})"
                        for d in row["story_mates"]))
        return EXIT_OK
    if args.command == "delete":
        assistant.delete(args.doc_id)
        print(f"deleted {args.doc_id}")
        return EXIT_OK
    if args.command == "reindex":
        report = assistant.reindex(progress=_progress_bar("reindex"))
        print(f"reindexed {plural(report.indexed, 'document')} into "
              f"{plural(report.chunks, 'chunk')} in {report.seconds:.1f} s")
        return EXIT_OK
    raise AssertionError(f"unhandled command {args.command}")


def _filters(args: argparse.Namespace) -> dict[str, Any] | None:
    filters: dict[str, Any] = {}
    if args.source:
        filters["source"] = args.source
    if args.after:
        filters["published_after"] = args.after
    if args.before:
        filters["published_before"] = args.before
    return filters or None


def _ingest(assistant: Any, args: argparse.Namespace) -> int:
    from rag.ingest.loaders import is_url, read_url_list

    urls = [p for p in args.path if is_url(p)]
    paths = [p for p in args.path if not is_url(p)]
    if args.from_file:
        try:
            urls += read_url_list(args.from_file)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"error: cannot read {shown(str(args.from_file))}: "
                  f"{getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
            return EXIT_USAGE
    if not urls and not paths:
        print("error: give a file, a folder or a URL to ingest (or --from-file)",
              file=sys.stderr)
        return EXIT_USAGE
    progress = None if args.json else _progress_bar("ingest")
    report = IngestReport()
    for path in paths:
        report.merge(assistant.ingest(Path(path), progress=progress, refresh=False))
    if urls:
        try:
            report.merge(assistant.ingest_urls(urls, progress=progress, refresh=False))
        except ImportError as exc:  # the web extra is not installed
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if report.changed:
        assistant.refresh_index()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(
            f"{plural(report.seen, 'file')}: {plural(len(report.added), 'document')} added, "
            f"{len(report.updated)} updated, {len(report.removed)} removed, "
            f"{len(report.unchanged)} unchanged, "
            f"{plural(len(report.copies), 'copy', 'copies')} of indexed documents, "
            f"{plural(len(report.failed), 'file')} failed; "
            f"{plural(report.chunks, 'chunk')} in {report.seconds:.1f} s"
        )
        for path, reason in report.skipped:
            print(f"  skipped: {shown(str(path))}: {reason}", file=sys.stderr)
        for path, original in report.copies:
            print(f"  copy: {shown(str(path))}: the same text as document {original}, "
                  "indexed once", file=sys.stderr)
        for path, warning in report.warnings:
            print(f"  warning: {shown(str(path))}: {shown(warning)}", file=sys.stderr)
        for path, reason in report.failed:
            print(f"  failed: {shown(str(path))}: {shown(reason)}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def _chat(assistant: Any, args: argparse.Namespace) -> int:
    history: list[Any] = []
    if sys.stdin.isatty():
        # Line editing for input(): arrows, history, and Ctrl-L clears instead of
        # printing ^L. Absent on some platforms; plain input() still works there.
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401
    print("Ask about the indexed articles; an empty line or Ctrl-D ends the conversation.")
    while True:
        try:
            question = input("\n? ").strip()
        except EOFError:
            print()
            return EXIT_OK
        if not question:
            return EXIT_OK
        try:
            events = assistant.chat_stream(question, history, k=args.k,
                                           use_llm=not args.no_llm)
            answer = _follow(events, show=_shows_draft(assistant, args))
        except (InvalidQuestionError, InvalidArgumentError) as exc:
            print(f"rag: {exc}", file=sys.stderr)
            continue
        print(format_answer(answer, width=terminal_width(),
                            names=assistant.source_names(answer)))
        history.append(answer)


def _eval(assistant: Any, args: argparse.Namespace) -> int:
    from datetime import datetime

    from rag.eval.runner import run_eval

    if args.dated is not None:
        return _eval_dated(assistant, args)
    if not args.dataset.is_file():
        print(f"rag: no gold set at {args.dataset}", file=sys.stderr)
        return EXIT_USAGE
    if not assistant.stats()["documents"]:
        report = assistant.ingest(args.corpus, progress=_progress_bar("ingest"))
        if not report.ok:
            for path, reason in report.failed:
                print(f"  failed: {shown(str(path))}: {shown(reason)}", file=sys.stderr)
            return EXIT_FAILED
    out = args.out or EVALS / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")
    result = run_eval(assistant, args.dataset, out, args.baseline, args.thresholds,
                      progress=not args.no_progress, llm_judge=args.llm_judge)
    for name in ("answerable_accuracy", "refusal_accuracy", "citation_recall",
                 "citation_precision", "faithfulness", "quote_exactness", "hit_at_5", "mrr",
                 "latency_p50_ms", "latency_p95_ms", "llm_faithfulness"):
        if name not in result.metrics:
            continue
        value = result.metrics.get(name)
        print(f"{name:>22}: {'n/a' if value is None else round(value, 4)}")
    for line in hardening_lines(result.hardening):
        print(line)
    for failure in result.failures:
        print(f"FAIL {failure}", file=sys.stderr)
    print("PASS: every threshold met" if result.ok
          else f"FAIL: {plural(len(result.failures), 'threshold')} missed")
    print(f"report: {_relative(out / 'report.html')}")
    return EXIT_OK if result.ok else EXIT_FAILED


def _eval_dated(assistant: Any, args: argparse.Namespace) -> int:
    """`rag eval --dated DIR`: the dated set (`rag.eval.dated`) through an assistant with
    this one's settings and embedder, on an index of its own."""
    from datetime import UTC, datetime

    from rag.config import display_path
    from rag.eval.dated import run, summary_lines

    missing = [name for name in ("articles.jsonl", "queries.jsonl")
               if not (args.dated / name).is_file()]
    if missing:
        print(f"rag: no {' or '.join(missing)} in {args.dated}", file=sys.stderr)
        return EXIT_USAGE
    settings = assistant.settings
    # A fresh index: on a Chroma server the set would land in the shared collection.
    result = run(args.dated, settings=settings.with_(chroma_url=None, models_dir=(
        settings.models_dir or settings.home / "models")), embedder=assistant.embedder,
        progress=not args.no_progress)
    out = args.out or EVALS / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    header = {"dataset": "dated", "data": display_path(args.dated),
              "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "environment": {"embedding_model": assistant.embedder.name,
                              "llm": settings.llm, "answerer": settings.answerer,
                              "top_k": settings.top_k, "hybrid": settings.hybrid}}
    (out / "dated.json").write_text(
        json.dumps({**header, **result}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8")
    for line in summary_lines(result):
        print(line)
    print(f"figures: {_relative(out / 'dated.json')}")
    return EXIT_OK


def _warm_in_background(generator: Any) -> None:
    """Assemble and load the local model while the UI starts, not at the first question."""
    import threading

    def warm() -> None:
        try:
            seconds = generator.warm()
        except RagError as exc:
            print(f"rag: the local model could not be loaded: {exc}", file=sys.stderr,
                  flush=True)
        else:
            if seconds:
                print(f"local model {generator.model} loaded in {seconds:.1f} s",
                      file=sys.stderr, flush=True)

    threading.Thread(target=warm, name="rag-warm-local-model", daemon=True).start()


def _shows_draft(assistant: Any, args: argparse.Namespace) -> bool:
    """Whether to show a generated draft as it is written (extractive answers have none)."""
    return (assistant.generator is not None and not args.no_llm
            and not getattr(args, "json", False))


def _follow(events: Any, *, show: bool) -> Any:
    """The final `Answer` of an answer stream. With `show`, the draft's tokens go to stderr
    as they are generated, then "checking sources…" while its sentences are verified; the
    verified answer (which may differ: unsupported sentences are dropped) goes to stdout."""
    from rag.schema import Answer, Status

    answer = None
    drafted = False
    for event in events:
        if isinstance(event, Answer):
            answer = event
        elif isinstance(event, Status):
            if show:
                print(f"\n[{event.message}]" if drafted else f"[{event.message}]",
                      file=sys.stderr, flush=True)
                drafted = False
        elif show and event:
            if not drafted:
                print("[draft] ", end="", file=sys.stderr)
            print(event, end="", file=sys.stderr, flush=True)
            drafted = True
    if drafted:  # a draft that failed half-way: the fallback below replaces it
        print(file=sys.stderr)
    if answer is None:
        raise RuntimeError("the answer stream ended without an Answer")
    return answer


def _parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not (sep and user and password):
        raise ConfigError("--auth must be USER:PASSWORD")
    return user, password


def _progress_bar(label: str) -> Any:
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int, path: str) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=label, unit="file", file=sys.stderr,
                              disable=None, leave=False)
        bar["bar"].n = done
        bar["bar"].refresh()
        if done >= total:
            bar["bar"].close()

    return update


def _relative(path: Path) -> Path:
    """`path` relative to the working directory when it is under it (shorter to read)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


if __name__ == "__main__":
    sys.exit(main())
