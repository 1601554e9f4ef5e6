"""A small Server-Sent Events decoder (the WHATWG event-stream rules), fed one line at a time."""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

__all__ = ["LineSplitter", "SSEDecoder", "SSEMessage", "aiter_sse", "iter_sse"]

_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEMessage:
    event: str
    data: str
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed lines without their terminators (see :class:`LineSplitter`)."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None
        self._first = True

    def feed(self, line: str) -> SSEMessage | None:
        if self._first:
            self._first = False
            line = line.removeprefix("\ufeff")
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # comment / keep-alive
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        # other field names are ignored, as the spec says
        return None

    def flush(self) -> SSEMessage | None:
        """End of stream. Lenient: an event missing its final blank line is still delivered."""
        return self._dispatch()

    def _dispatch(self) -> SSEMessage | None:
        if not self._data:
            self._event = ""
            return None
        message = SSEMessage(event=self._event or "message", data="\n".join(self._data), id=self._id, retry=self._retry)
        self._event = ""
        self._data = []
        return message


class LineSplitter:
    """Splits a text stream into lines on ``\r\n``, ``\n`` or ``\r`` only.

    (``str.splitlines`` and httpx's ``aiter_lines`` also split on U+2028 and friends, which may appear raw
    inside JSON data and would corrupt an event.)
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._pending_cr = False
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, chunk: str | bytes) -> list[str]:
        text = self._utf8.decode(chunk) if isinstance(chunk, bytes) else chunk
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            text = text.removeprefix("\n")
        text = self._buffer + text
        parts = _NEWLINE.split(text)
        self._buffer = parts.pop()
        self._pending_cr = text.endswith("\r")
        return parts

    def flush(self) -> list[str]:
        rest = self._buffer + self._utf8.decode(b"", final=True)
        self._buffer = ""
        return [rest] if rest else []


def iter_sse(chunks: Iterable[str | bytes]) -> Iterator[SSEMessage]:
    """Decode raw chunks (text or UTF-8 bytes, split anywhere) into events."""
    splitter, decoder = LineSplitter(), SSEDecoder()
    for chunk in chunks:
        for line in splitter.feed(chunk):
            if (message := decoder.feed(line)) is not None:
                yield message
    for line in splitter.flush():
        if (message := decoder.feed(line)) is not None:
            yield message
    if (message := decoder.flush()) is not None:
        yield message


async def aiter_sse(chunks: AsyncIterable[str | bytes]) -> AsyncIterator[SSEMessage]:
    """The async twin of :func:`iter_sse`, e.g. over ``httpx.Response.aiter_bytes()``."""
    splitter, decoder = LineSplitter(), SSEDecoder()
    async for chunk in chunks:
        for line in splitter.feed(chunk):
            if (message := decoder.feed(line)) is not None:
                yield message
    for line in splitter.flush():
        if (message := decoder.feed(line)) is not None:
            yield message
    if (message := decoder.flush()) is not None:
        yield message
