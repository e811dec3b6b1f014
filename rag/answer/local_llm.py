"""Generated answers from a model run in this process (`RAG_LLM=local`), no server needed.

The runtime is `xllamacpp` (llama.cpp's server engine as a Python extension; MIT). The
default model is Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0, see LICENSES/), shipped
on PyPI split across 22 data wheels; a smaller, weaker Qwen2.5-Coder-0.5B-Instruct comes in
six. Which file is loaded, and how the packaged ones are assembled and verified, is
`rag.answer.model_files`.

`LocalGenerator` implements the `Generator` protocol of `rag.answer.generation`, so the chain
treats it as it treats an OpenAI-compatible endpoint: the reply's markers are parsed,
narrowed to spans and checked sentence by sentence, and any failure — the deadline, an
error of the runtime, a reply cut at the token budget — is a `GenerationError`, after
which the chain answers extractively, labelled as a fallback. What differs is the prompt:
a 1.5B model follows a short one over short excerpts (each passage's best sentence and its
neighbours, `prompts/answer_local.md`) better than the long one over whole chunks. It also
offers the chain `answer_probability`, its own YES/NO reading of whether the answerer's
quote answers the question (`rag.answer.answer_check`).

One model is loaded per process and path, lazily; a lock lets one generation run at a time
(two at once on 2 cores would each take twice as long), so concurrent UI users queue, and
their wait counts against their deadline. The deadline (`llm_timeout`) bounds each answer
from the moment the model is ready: the stream is read from a worker thread, so an answer
ends on time even while the model is still reading the prompt. A consumer that stops
reading (closes the stream) stops the generation at its next token.
"""

from __future__ import annotations

import atexit
import os
import queue
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rag.answer.answer_check import (
    CHECK_TOP_LOGPROBS,
    calibrated_threshold,
    check_messages,
    yes_probability,
)
from rag.answer.model_files import (
    PackagedModel,
    model_label,
    model_source,
    part_paths,
    require_runtime,
    resolve_model,
)
from rag.answer.prompts import Excerpt, answer_messages
from rag.config import Settings
from rag.errors import ConfigError, GenerationError, ModelFilesError

if TYPE_CHECKING:
    from rag.schema import Citation, Passage


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


PROMPT = "answer_local"
# Per excerpt and in all: about 90 and 370 tokens, so a k=5 prompt is ~330-480 tokens,
# which the 1.5B model reads in 4-7 s on 2 busy cores. Tighter (300 / 1,200) was no
# faster and refused three answerable seed questions of ten instead of two.
EXCERPT_CHARS = 360
EXCERPTS_CHARS = 1500
# The prompt cache keeps earlier prompts' KV state in RAM, so a follow-up whose sources
# and instructions repeat is not read again (llama.cpp's default would allow 8 GiB).
_CACHE_RAM_MIB = 256
# The quote check reads ~60-150 prompt tokens and writes one (1.4-2.0 s p50 on 2 cores);
# it has its own bound, so the answer's deadline (`llm_timeout`) stays the draft's.
CHECK_BUDGET_S = 10.0


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
        threshold = settings.local_check
        if threshold is None:
            threshold = calibrated_threshold(settings.local_model)
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"RAG_LOCAL_CHECK is a probability from 0 to 1 (0 turns the "
                              f"check off), got {threshold:g}")
        self.check_threshold = threshold

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
        finish_reason: str | None = None
        for choice in self._choices(messages, self.settings.local_max_tokens, self._budget):
            delta = (choice.get("delta") or {}).get("content")
            if delta:
                yield delta
            finish_reason = choice.get("finish_reason") or finish_reason
        if finish_reason == "length":
            raise GenerationError(f"the local model's answer was cut off at the "
                                  f"{self.settings.local_max_tokens}-token budget")
        if finish_reason != "stop":
            raise GenerationError("the local model stopped before finishing its answer")

    def answer_probability(self, question: str, citations: Sequence[Citation]) -> float | None:
        """The model's P(YES) that the quoted sentences answer `question`: one token, read
        from its distribution (`rag.answer.answer_check`); None if neither word is likely."""
        messages = check_messages(question, citations, self.settings.prompts_dir)
        top: list[dict[str, Any]] = []
        budget = min(self._budget, CHECK_BUDGET_S)
        for choice in self._choices(messages, 1, budget, logprobs=CHECK_TOP_LOGPROBS):
            content = (choice.get("logprobs") or {}).get("content") or []
            if content and not top:
                top = list(content[0].get("top_logprobs") or [])
        return yes_probability(top)

    def _choices(self, messages: list[dict[str, Any]], max_tokens: int, budget: float, *,
                 logprobs: int = 0) -> Iterator[dict[str, Any]]:
        """The streamed choices of one greedy request, within the deadline; raises
        `GenerationError` on the deadline or an error of the engine."""
        runtime = self._ready()
        started = time.monotonic()
        deadline = started + budget
        if not runtime.lock.acquire(timeout=max(0.0, budget)):
            raise GenerationError(f"the local model was busy with other questions for the "
                                  f"whole {budget:g} s budget")
        stop = threading.Event()
        chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        request: dict[str, Any] = {
            "messages": messages,
            "stream": True,
            "temperature": 0,
            "top_k": 1,
            "max_tokens": max_tokens,
            "cache_prompt": True,
        }
        if logprobs:
            request.update(logprobs=True, top_logprobs=logprobs)

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
        self.last_timings = {"queued_s": time.monotonic() - started}
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    item = chunks.get(timeout=remaining) if remaining > 0 else None
                except queue.Empty:
                    item = None
                if item is None:
                    raise GenerationError(f"the local model timed out after {budget:g} s")
                if item is _DONE:
                    break
                if isinstance(item, _Failed):
                    raise GenerationError(f"the local model failed: {_short(item.error)}")
                error = _error_of(item)
                if error:
                    raise GenerationError(f"the local model reported an error: {error}")
                if isinstance(item.get("timings"), dict):
                    self._record(item["timings"])
                choices = item.get("choices")
                if not choices:
                    continue
                if (choices[0].get("delta") or {}).get("content"):
                    self.last_timings.setdefault("first_token_s", time.monotonic() - started)
                yield choices[0]
        finally:
            stop.set()  # a consumer that stopped reading stops the generation
            self.last_timings["total_s"] = time.monotonic() - started

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
