"""Kill `rag ingest` with SIGKILL at random moments, finish it, and compare the result
with a clean ingest of the same folder into a fresh data directory.

    python -m tests.chaos --runs 20 --files 300

Every run starts either from an empty data directory (a first ingest) or from a copy
of one holding an older version of the corpus (so kills also land in updates and
removals). Each run kills 1-3 ingests, then lets one finish, and the final state must
equal the reference: the same documents and content hashes, the same chunk ids with the
same offsets, text and vectors, chunk counts matching the manifest, no orphan or
duplicate chunks, the same failed files, and the same top hits for a few questions.

The helpers here (corpus builder, state snapshot) are also used by
tests/system/test_robustness.py, which runs a short version of this on every `make test`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

_TOWNS = ["Ashford", "Brenton", "Calder", "Dunmore", "Elstow", "Farley", "Glenrock", "Hadley",
          "Irvine", "Jarrow", "Kelso", "Lydford", "Marlow", "Norwich", "Oakham", "Penrith"]
_BODIES = ["city council", "water board", "school district", "port authority", "hospital trust",
           "transit agency", "housing office", "parks department"]
_THINGS = ["bridge repair", "bus line", "library extension", "flood barrier", "solar farm",
           "bike lane", "harbour dredging", "night market", "clinic", "tram depot"]
_PEOPLE = ["Ana Ruiz", "Tom Okafor", "Lena Weiss", "Raj Patel", "Mei Chen", "Olga Ivanova",
           "Sam Carter", "Nadia Haddad"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_SOURCES = ["Daily Ledger", "Valley Post", "Coast Herald", "Metro Wire"]
_CHAOS_QUESTIONS = [
    "How much did the bridge repair cost?",
    "Who objected to the solar farm?",
    "When did the council vote on the bus line?",
]


def article(rng: random.Random, number: int, sentences: int | None = None) -> dict[str, str]:
    """A short, unique, news-like article with metadata."""
    town = rng.choice(_TOWNS)
    body = rng.choice(_BODIES)
    thing = rng.choice(_THINGS)
    person = rng.choice(_PEOPLE)
    lines = [
        f"The {town} {body} voted {rng.randint(3, 9)} to {rng.randint(0, 4)} on "
        f"{rng.choice(_DAYS)} to approve the {thing} (item {number}).",
        f"The project will cost {rng.randint(2, 90)} million dollars and take "
        f"{rng.randint(6, 40)} months, officials said.",
        f"{person}, who chairs the committee, said the plan had been debated for "
        f"{rng.randint(2, 12)} years.",
        f"Residents raised concerns about noise and traffic near {rng.choice(_TOWNS)} Road.",
    ]
    if sentences is None:
        # Mostly one chunk; one article in eight runs to several, with overlaps.
        sentences = rng.randint(10, 16) if rng.random() < 0.125 else rng.randint(0, 2)
    extra = sentences
    for _ in range(extra):
        lines.append(
            f"{rng.choice(_PEOPLE)} noted that {rng.randint(10, 990)} households in "
            f"{rng.choice(_TOWNS)} would be affected by the {rng.choice(_THINGS)}."
        )
    month = rng.randint(1, 12)
    return {
        "title": f"{town} {body} approves {thing} #{number}",
        "source": rng.choice(_SOURCES),
        "published_at": f"2024-{month:02d}-{rng.randint(1, 28):02d}",
        "url": f"https://news.example/{number}",
        "body": "\n".join(lines) + "\n",
    }


def write_article(folder: Path, number: int, item: dict[str, str], kind: str) -> list[Path]:
    """Write one article (or, for jsonl, a file of three) in the given format."""
    stem = folder / f"{number:04d}"
    if kind == "txt":
        path = stem.with_suffix(".txt")
        path.write_text(item["body"], encoding="utf-8")
    elif kind == "md":
        path = stem.with_suffix(".md")
        path.write_text(
            f"---\ntitle: \"{item['title']}\"\nsource: {item['source']}\n"
            f"published_at: {item['published_at']}\nurl: {item['url']}\n---\n{item['body']}",
            encoding="utf-8")
    elif kind == "html":
        path = stem.with_suffix(".html")
        paragraphs = "".join(f"<p>{line}</p>" for line in item["body"].splitlines())
        path.write_text(f"<html><head><title>{item['title']}</title></head><body>"
                        f"<article>{paragraphs}</article></body></html>", encoding="utf-8")
    elif kind == "json":
        path = stem.with_suffix(".json")
        path.write_text(json.dumps(item, ensure_ascii=False), encoding="utf-8")
    else:
        path = stem.with_suffix(".jsonl")
        records = [item] + [
            {**item, "url": f"{item['url']}-{k}", "title": f"{item['title']} ({k})",
             "body": item["body"].replace("approve", f"approve phase {k} of")}
            for k in (2, 3)
        ]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                        encoding="utf-8")
    return [path]


KINDS = ("txt", "md", "html", "json", "jsonl")

# Broken files of every kind the loaders refuse, each with a word its reason must contain.
BROKEN: list[tuple[str, bytes, str]] = [
    ("bad.json", b'{"title": "x", "body": ', "invalid JSON"),
    # A JSONL file with some good lines loads those (tests/system/test_ingest_safety.py);
    # with none, it fails, naming the lines.
    ("bad.jsonl", b'{"body": oops}\n{"body": "unclosed\n', "line 2"),
    ("nobody.json", b'{"title": "no body here"}', "body"),
    ("deep.json", b"[" * 50_000 + b"]" * 50_000, "nested"),
    ("empty.txt", b"", "empty"),
    ("blank.md", b"   \n\t\n", "empty"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    ("latin-garbage.txt", bytes(random.Random(7).randrange(0x80, 0x100) for _ in range(300)),
     "encoding"),
    ("noscript.html", b"<html><head><script>alert(1)</script></head><body></body></html>",
     "no readable text"),
    ("tags-only.htm", b"<html><body><div><span> </span></div><!-- a comment --></body>",
     "no readable text"),
    ("badyaml.md", b"---\ntitle: [unclosed\n---\nBody text.\n", "YAML"),
    ("listyaml.md", b"---\n- a\n- b\n---\nBody text.\n", "mapping"),
    ("invisible.txt", "\u200b\u200d\u202e\u2066\ufeff \n".encode(), "no readable text"),
    ("big.txt", b"word " * 30_000, "limit"),
    ("utf16-broken.txt", b"\xff\xfeA\x00\x00\xd8", "utf-16"),
    ("notobject.jsonl", b'[1, 2, 3]\n"text"\n', "expected an object"),
    ("huge-int.json", b'{"body": "x", "n": ' + b"9" * 5000 + b"}", "invalid JSON"),
    ("empty-array.json", b"[]", "no records"),
    ("bodyless.jsonl", b'{"body": "   "}\n', "body"),
    ("control.txt", b"\x1b\x07\x08\x7f\n\x1b", "no readable text"),
]
# Small enough that big.txt is refused, far above any article.
MAX_FILE_BYTES = 100_000


def build_corpus(folder: Path, files: int, *, seed: int, broken: int = 0) -> dict[str, str]:
    """`files` files in `folder`, the last `broken` of them from BROKEN; returns the broken
    file names with the word their failure reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    good = files - broken
    for number in range(good):
        write_article(folder, number, article(rng, number), KINDS[number % len(KINDS)])
    expected: dict[str, str] = {}
    for index in range(broken):
        name, data, reason = BROKEN[index % len(BROKEN)]
        name = f"zz{index:02d}-{name}"
        (folder / name).write_bytes(data)
        expected[name] = reason
    return expected


def mutate_corpus(folder: Path, *, seed: int) -> None:
    """Edit about a fifth of the files, delete a twentieth, add a twentieth, and drop a
    record from some JSONL files: every kind of change an incremental ingest handles."""
    rng = random.Random(seed)
    paths = sorted(p for p in folder.iterdir() if not p.name.startswith("zz"))
    for path in paths:
        roll = rng.random()
        if roll < 0.05:
            path.unlink()
        elif roll < 0.25:
            if path.suffix == ".jsonl":
                lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
                path.write_text("".join(lines[:-1]), encoding="utf-8")
            elif path.suffix == ".json":
                record = json.loads(path.read_text(encoding="utf-8"))
                record["body"] += "The vote was later challenged in court.\n"
                path.write_text(json.dumps(record), encoding="utf-8")
            else:
                with path.open("a", encoding="utf-8") as handle:
                    handle.write("\nThe vote was later challenged in court.\n")
    start = 5000
    for number in range(start, start + max(1, len(paths) // 20)):
        write_article(folder, number, article(rng, number), KINDS[number % len(KINDS)])


# -- state -----------------------------------------------------------------------


@dataclass
class State:
    documents: dict[str, str] = field(default_factory=dict)  # doc_id -> content hash
    chunks: dict[str, tuple[str, str, int, int, str]] = field(default_factory=dict)
    vectors: dict[str, str] = field(default_factory=dict)  # chunk id -> rounded-vector digest
    chunk_count: int = 0
    manifest_chunks: int = 0
    orphans: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    short: list[str] = field(default_factory=list)
    hits: dict[str, list[str]] = field(default_factory=dict)

    def problems(self) -> list[str]:
        found = []
        if self.orphans:
            found.append(f"{len(self.orphans)} orphan chunks")
        if self.duplicates:
            found.append(f"{len(self.duplicates)} duplicate chunk spans")
        if self.short:
            found.append(f"{len(self.short)} documents with the wrong number of chunks")
        if self.chunk_count != self.manifest_chunks:
            found.append(f"collection holds {self.chunk_count} chunks, manifest lists "
                         f"{self.manifest_chunks}")
        return found

    def differences(self, other: State) -> list[str]:
        found = []
        for name in ("documents", "chunks", "vectors", "chunk_count", "hits"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                if isinstance(mine, dict):
                    extra = len(set(mine) - set(theirs))
                    missing = len(set(theirs) - set(mine))
                    changed = sum(1 for k in set(mine) & set(theirs) if mine[k] != theirs[k])
                    found.append(f"{name}: {extra} extra, {missing} missing, {changed} differ")
                else:
                    found.append(f"{name}: {mine} != {theirs}")
        return found


def snapshot(home: Path, *, in_process: bool = False) -> State:
    """Everything an ingest leaves behind in `home`, read in a fresh process: a Chroma
    client caches the index in memory and must not outlive a writer in another process.
    `in_process` is for a data directory nothing will write to any more."""
    if in_process:
        return read_state(home)
    result = subprocess.run([sys.executable, "-m", "tests.chaos", "--snapshot", str(home)],
                            cwd=REPO, capture_output=True, text=True, timeout=300,
                            env=ingest_command(home, home)[1])
    if result.returncode != 0:
        raise RuntimeError(f"snapshot of {home} failed: {result.stderr[-2000:]}")
    data = json.loads(result.stdout)
    data["chunks"] = {k: tuple(v) for k, v in data["chunks"].items()}
    return State(**data)


def read_state(home: Path, *, questions: list[str] | None = None) -> State:
    """Everything an ingest left behind in `home`, read through rag's own store."""
    from rag.config import Settings
    from rag.index.chroma_client import pages
    from rag.index.embeddings import MiniLMEmbedder
    from rag.index.records import stored_chunk
    from rag.index.store import Store

    embedder = _embedder()
    store = Store(Settings(home=home), embedder_name=MiniLMEmbedder.name,
                  dimension=MiniLMEmbedder.dimension)
    manifest = store.manifest()
    state = State(documents={d: e.content_hash for d, e in manifest.items()},
                  chunk_count=store.chunk_count(),
                  manifest_chunks=sum(e.chunks for e in manifest.values()))
    per_doc: Counter[str] = Counter()
    spans: Counter[tuple[str, int, int]] = Counter()
    result_pages = pages(store.chunks, include=["metadatas", "documents", "embeddings"])
    for ids, metadatas, texts, embeddings in result_pages:
        for chunk_id, meta, text, vector in zip(ids, metadatas, texts, embeddings, strict=True):
            chunk = stored_chunk(chunk_id, text, 0.0, meta)
            assert chunk is not None, f"chunk {chunk_id} has no text"
            doc_id, digest = str(chunk.metadata["doc_id"]), str(chunk.metadata["content_hash"])
            start, end = int(chunk.metadata["start"]), int(chunk.metadata["end"])
            text_digest = hashlib.sha256(chunk.text.encode()).hexdigest()[:16]
            state.chunks[chunk_id] = (doc_id, digest, start, end, text_digest)
            rounded = [round(float(x), 4) + 0.0 for x in vector]
            state.vectors[chunk_id] = hashlib.sha256(repr(rounded).encode()).hexdigest()[:16]
            if state.documents.get(doc_id) != digest:
                state.orphans.append(chunk_id)
                continue
            per_doc[doc_id] += 1
            spans[(doc_id, start, end)] += 1
    state.duplicates = sorted(f"{d}:{s}-{e}" for (d, s, e), n in spans.items() if n > 1)
    state.short = sorted(d for d, e in manifest.items() if per_doc[d] != e.chunks)
    for question in questions or _CHAOS_QUESTIONS:
        hits = store.query(embedder.embed_query(question), 5)
        state.hits[question] = [h.chunk_id for h in hits]
    return state


_EMBEDDER: Any = None


def _embedder() -> Any:
    global _EMBEDDER
    if _EMBEDDER is None:
        from rag.index.embeddings import MiniLMEmbedder

        _EMBEDDER = MiniLMEmbedder()
    return _EMBEDDER


# -- running ingest ----------------------------------------------------------------


def ingest_command(home: Path, corpus: Path) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "RAG_HOME": str(home), "RAG_MAX_FILE_MB": str(MAX_FILE_BYTES / 2**20)}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RAG_LLM", "RAG_CHROMA_URL",
                 "RAG_COLLECTION"):
        env.pop(name, None)
    return [sys.executable, "-m", "rag.cli", "ingest", str(corpus), "--json"], env


def run_ingest(home: Path, corpus: Path, *, kill_after: float | None = None,
               kill_at_change: int | None = None, delay: float = 0.0
               ) -> tuple[bool, dict[str, Any] | None, float, int]:
    """(killed, report or None, seconds, changes seen in the store's files).

    With `kill_after`, SIGKILL the ingest that many seconds in. With `kill_at_change`,
    watch the Chroma files and SIGKILL `delay` seconds after the n-th change to them:
    that lands kills inside the short bursts of writes, which a uniformly random moment
    mostly misses because embedding takes most of an ingest's time."""
    command, env = ingest_command(home, corpus)
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    changes = 0
    killed = False
    store = home / "chroma"
    seen = _fingerprint(store)
    while process.poll() is None:
        elapsed = time.monotonic() - started
        if kill_after is not None and elapsed >= kill_after:
            killed = True
            break
        current = _fingerprint(store)
        if current != seen:
            seen = current
            changes += 1
            if kill_at_change is not None and changes >= kill_at_change:
                time.sleep(delay)
                killed = process.poll() is None
                break
        time.sleep(0.002)
    if killed:
        process.send_signal(signal.SIGKILL)
        process.communicate()
        return True, None, time.monotonic() - started, changes
    out, err = process.communicate()
    seconds = time.monotonic() - started
    if process.returncode not in (0, 1):
        raise RuntimeError(f"ingest exited with {process.returncode}: {err[-2000:]}")
    return False, json.loads(out), seconds, changes


def _fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    found = []
    for base, _, names in os.walk(folder):
        for name in names:
            try:
                info = os.stat(os.path.join(base, name))
            except OSError:  # removed while we looked
                continue
            found.append((os.path.join(base, name), info.st_size, info.st_mtime_ns))
    return tuple(sorted(found))


@dataclass
class Kill:
    how: str
    seconds: float
    documents: int  # committed when the ingest died
    orphans: int  # chunks it left that no committed document owns

    def __str__(self) -> str:
        return (f"{self.how} {self.seconds:.1f}s: {self.documents} docs, "
                f"{self.orphans} orphans")


@dataclass
class RunResult:
    start: str
    kills: list[Kill]
    identical: bool
    differences: list[str]


def chaos_run(number: int, setup: Setup, *, from_older: bool, work: Path,
              rng: random.Random, kills: int, writes_only: bool = False,
              observe: bool = True, in_process: bool = False) -> RunResult:
    """Start from an empty or an older data directory, SIGKILL `kills` ingests at random
    moments (only inside bursts of writes if `writes_only`), let one finish, and compare
    with the reference. `observe` reads the state after each kill, for the figures."""
    start = "older corpus" if from_older else "empty"
    home = work / f"run-{number:02d}"

    def fresh_start() -> None:
        shutil.rmtree(home, ignore_errors=True)
        if from_older:
            shutil.copytree(setup.older, home)

    fresh_start()
    observed: list[Kill] = []
    missed = 0
    while len(observed) < kills:
        if not writes_only and rng.random() < 0.5:
            # Anywhere from the startup (imports, model load) to the last writes.
            moment = rng.uniform(0.1, 1.0) * setup.seconds[start]
            killed, _, seconds, changes = run_ingest(home, setup.corpus, kill_after=moment)
            how = "at random"
        else:
            top = setup.changes[start]
            change = rng.randint(2, max(2, int(top * 0.6))) if writes_only else rng.randint(1, top)
            killed, _, seconds, changes = run_ingest(home, setup.corpus, kill_at_change=change,
                                                     delay=rng.uniform(0.0, 0.05))
            how = f"at store change #{change}"
        if not killed:
            # It finished first: start the run over rather than kill a no-op ingest. If it
            # ran from the run's starting point, aim by what it took: the machine's load
            # changes how long an ingest takes, and how many changes polling sees.
            missed += 1
            if missed > 10:
                raise RuntimeError("the ingest keeps finishing before it can be killed")
            if not observed:
                setup.seconds[start] = seconds
                setup.changes[start] = max(2, changes)
            fresh_start()
            observed.clear()
            continue
        state = snapshot(home) if observe else State()
        observed.append(Kill(how, seconds, len(state.documents), len(state.orphans)))
    killed, report, _, _ = run_ingest(home, setup.corpus)
    assert not killed and report is not None
    final = snapshot(home, in_process=in_process)
    differences = final.problems() + final.differences(setup.reference)
    failed = {Path(f["path"]).name for f in report["failed"]}
    if failed != setup.failed:
        differences.append(f"failed files differ: {sorted(failed ^ setup.failed)}")
    if report["indexed"] + len(report["failed"]) != report["seen"]:
        differences.append("report: indexed + failed != seen")
    if not in_process:
        shutil.rmtree(home, ignore_errors=True)
    return RunResult(start, observed, not differences, differences)


@dataclass
class Setup:
    corpus: Path
    older: Path  # a data directory holding the corpus as it was before its edits
    reference: State  # a clean ingest of the corpus into a fresh data directory
    failed: set[str]  # names of the files that fail in it
    seconds: dict[str, float]  # how long an uninterrupted ingest takes, by starting point
    changes: dict[str, int]  # how many changes to the store's files it makes


def prepare(work: Path, files: int, seed: int, broken: int, *, timing: bool = True,
            in_process: bool = False) -> Setup:
    """Without `timing`, the update ingest is not timed and its figures are estimated from
    the first ingest's."""
    corpus = work / "corpus"
    build_corpus(corpus, files, seed=seed, broken=broken)
    older = work / "older-home"
    killed, _, _, _ = run_ingest(older, corpus)
    assert not killed
    mutate_corpus(corpus, seed=seed + 1)
    clean = work / "clean-home"
    _, report, seconds, changes = run_ingest(clean, corpus)
    assert report is not None
    reference = snapshot(clean, in_process=in_process)
    problems = reference.problems()
    if problems:
        raise AssertionError(f"the clean ingest itself is inconsistent: {problems}")
    failed = {Path(f["path"]).name for f in report["failed"]}
    update_seconds, update_changes = seconds, changes
    if timing:
        timing_home = work / "timing-home"
        shutil.copytree(older, timing_home)
        _, _, update_seconds, update_changes = run_ingest(timing_home, corpus)
        shutil.rmtree(timing_home)
    return Setup(corpus, older, reference, failed,
                 {"empty": seconds, "older corpus": update_seconds},
                 {"empty": changes, "older corpus": update_changes})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--broken", type=int, default=5, help="broken files in the corpus")
    parser.add_argument("--max-kills", type=int, default=3, help="kills per run, 1 to this")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, metavar="OUT",
                        help="also write the totals here (evals/results/chaos.json is the "
                             "one `rag eval`'s report shows)")
    parser.add_argument("--snapshot", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.snapshot:
        print(json.dumps(asdict(read_state(args.snapshot))))
        return 0
    rng = random.Random(args.seed)
    # Stopped with SIGTERM, still remove the temporary corpus and data directories.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="rag-chaos-") as tmp:
        work = Path(tmp)
        setup = prepare(work, args.files, args.seed, args.broken)
        print(f"corpus: {args.files} files ({len(setup.failed)} broken), edited after a first "
              f"ingest; clean ingest: {len(setup.reference.documents)} documents, "
              f"{setup.reference.chunk_count} chunks; uninterrupted ingest "
              f"{setup.seconds['empty']:.1f} s from empty, "
              f"{setup.seconds['older corpus']:.1f} s from the older corpus; "
              f"{setup.changes['empty']} and {setup.changes['older corpus']} changes to the "
              "store's files", flush=True)
        identical = 0
        total_kills = 0
        # A kill that changes the chunks no committed document owns landed between a
        # batch's chunk write and its commit: inside the write, where a crash can harm.
        inside_write = 0
        aimed = 0
        for number in range(1, args.runs + 1):
            result = chaos_run(number, setup, from_older=number % 2 == 0, work=work, rng=rng,
                               kills=rng.randint(1, args.max_kills))
            total_kills += len(result.kills)
            # (A later kill of the run starts with the orphans the earlier ones left.)
            before = [0] + [kill.orphans for kill in result.kills[:-1]]
            inside_write += sum(kill.orphans != left
                                for kill, left in zip(result.kills, before, strict=True))
            aimed += sum(kill.how.startswith("at store change") for kill in result.kills)
            identical += result.identical
            kills = "; ".join(str(kill) for kill in result.kills)
            verdict = "identical" if result.identical else "DIFFERENT: " + "; ".join(
                result.differences)
            print(f"run {number:2d} from {result.start:12s} kills [{kills}] -> {verdict}",
                  flush=True)
        print(f"{identical}/{args.runs} runs identical to the clean ingest "
              f"({total_kills} kills, {aimed} aimed at the store's writes, {inside_write} "
              "left uncommitted chunks: landed inside a write)")
    if args.json:
        from bench._common import environment, write_json

        write_json(args.json, {
            "meta": environment(), "runs": args.runs, "identical": identical,
            "kills": total_kills, "aimed_at_writes": aimed, "inside_a_write": inside_write,
            "files": args.files, "broken": args.broken, "seed": args.seed,
            "command": f"python -m tests.chaos --runs {args.runs} --files {args.files}"})
    return 0 if identical == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
