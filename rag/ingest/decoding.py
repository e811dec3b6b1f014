"""Bytes to text (`decode`): the first of the two steps by which a loader changes a
file's text (`rag.ingest.loaders`).
"""

from __future__ import annotations

import codecs

from rag.errors import LoaderError


def decode(data: bytes) -> str:
    """Bytes to text: BOMs honoured, UTF-8 preferred, other encodings only when detected
    with confidence; binary data and undecodable text are refused, never guessed."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise LoaderError(f"invalid {encoding} after its byte-order mark") from exc
            # Checked after decoding: UTF-16 text is full of NUL bytes, never NUL characters.
            if "\x00" in text:
                raise LoaderError("binary file (contains NUL characters)")
            return text
    if b"\x00" in data:
        recovered = _utf16_without_bom(data)
        if recovered is None:
            raise LoaderError("binary file (contains NUL bytes)")
        return recovered
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    # A high chaos ratio means the "decoding" would be mojibake; refuse instead.
    plausible = [m for m in matches if m.chaos <= 0.1]
    if not plausible:
        raise LoaderError("not valid UTF-8 and no other text encoding could be detected")
    best = min(m.chaos for m in plausible)
    tied = [m for m in plausible if m.chaos <= best + 0.02]
    readings = {str(m) for m in tied}
    if len(readings) == 1:
        return readings.pop()
    # Short texts fit several 8-bit code pages equally well. Windows-1252 is by far the
    # most common legacy encoding of Western news text, so it wins a tie it is part of.
    western = from_bytes(data, cp_isolation=["cp1252"]).best()
    if western is not None and western.chaos <= best + 0.02:
        return str(western)
    names = ", ".join(sorted({m.encoding for m in tied})[:4])
    raise LoaderError(f"not UTF-8, and the encoding is ambiguous ({names}); save it as UTF-8")


UTF16_MIN_BYTES = 32


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 saved without a byte-order mark (some Windows tools do): Latin text then
    has a NUL byte beside nearly every character, all on one side of each pair. Read it
    when that pattern is plain and the result is text; otherwise None (binary)."""
    # A few bytes do not make a pattern: "0" then NUL is more likely a broken file than
    # the one-letter text "0" in UTF-16.
    if len(data) % 2 or len(data) < UTF16_MIN_BYTES:
        return None
    pairs = len(data) // 2
    for encoding, zeros in (("utf-16-le", data[1::2]), ("utf-16-be", data[0::2])):
        if zeros.count(0) < 0.6 * pairs:
            continue
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            return None
        readable = sum(ch.isprintable() or ch in "\t\n\r\f" for ch in text)
        return text if "\x00" not in text and readable >= 0.98 * len(text) else None
    return None
