"""A stamped upstream: a minimal, fast stand-in for Kie's Claude endpoint whose every text delta carries its send time.

Not the studio's simulator: plain asyncio and a hand-written HTTP/1.1 loop (keep-alive, chunked responses), so
nothing in it costs more than a few microseconds per event. It speaks what the studio calls,
``POST /claude/v1/messages`` with ``stream: true`` (also ``POST /v1/messages``, for clients that put the
``/claude`` in their base URL), and answers with Anthropic's message stream, as ``../shared/kie-api.md`` 7.1 has
it: ``message_start`` at once, then after the first-token delay ``content_block_start`` and the text deltas, then
``content_block_stop``, ``message_delta`` (usage and ``credits_consumed``) and ``message_stop``.

Each text delta's text is a stamp, ``[[ts:<time.monotonic() when written>#<index>]] ``, so whoever reads it, by
whatever path (straight, through the studio, through a proxy that re-frames or merges deltas), can compute each
chunk's latency: all processes on one host share the monotonic clock. ``STAMP`` is the pattern to read them.

The reply's shape is set per request by a marker in the last user message, ``[stamp id=NAME delay=MS chunks=N
every=MS]`` (defaults: delay 0, 40 chunks, 20 ms apart, scheduled on absolute times so they don't drift). The
server records each request's arrival (the moment its request line was read), when its body was read, and the
stamp of its first delta, under the marker's id: ``GET /_stamp/requests`` returns them. ``GET /api/v1/chat/credit``
answers a balance, so the studio's header has one to show.

Run: ``python -m bench.stamped --port 8899`` (prints ``ready`` once listening).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import time
from typing import Any

STAMP = re.compile(r"\[\[ts:(\d+\.\d+)#(\d+)\]\]")
MARKER = re.compile(r"\[stamp ([^\]]*)\]")
DEFAULTS = {"delay": 0.0, "chunks": 40, "every": 20.0}


def sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def marker(text: str) -> dict[str, Any]:
    found = MARKER.findall(text)
    options: dict[str, Any] = {"id": "", **DEFAULTS}
    if found:
        for pair in found[-1].split():
            key, _, value = pair.partition("=")
            options[key] = value if key == "id" else float(value)
    return options


class Stamped:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.serial = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                arrived = time.monotonic()
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await self.read_body(reader, headers)
                read = time.monotonic()
                keep = await self.route(writer, method, target.split("?", 1)[0], body, arrived, read)
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readline()
                    return b"".join(parts)
                parts.append(await reader.readexactly(size))
                await reader.readline()
        length = int(headers.get("content-length") or 0)
        return await reader.readexactly(length) if length else b""

    async def route(
        self, writer: asyncio.StreamWriter, method: str, path: str, body: bytes, arrived: float, read: float
    ) -> bool:
        if method == "POST" and path in ("/claude/v1/messages", "/v1/messages"):
            return await self.messages(writer, body, arrived, read, path)
        if method == "GET" and path == "/api/v1/chat/credit":
            return await self.json(writer, 200, {"code": 200, "msg": "success", "data": 100_000_000})
        if method == "GET" and path == "/_stamp/requests":
            return await self.json(writer, 200, {"requests": self.requests})
        if method == "GET" and path == "/_stamp/health":
            return await self.json(writer, 200, {"ok": True})
        return await self.json(writer, 404, {"error": {"type": "not_found_error", "message": f"no {method} {path}"}})

    @staticmethod
    async def json(writer: asyncio.StreamWriter, status: int, data: dict[str, Any]) -> bool:
        payload = json.dumps(data).encode()
        head = f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nContent-Type: application/json\r\n"
        writer.write(f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        await writer.drain()
        return True

    async def messages(self, writer: asyncio.StreamWriter, raw: bytes, arrived: float, read: float, path: str) -> bool:
        body = json.loads(raw or b"{}")
        options = marker(last_user_text(body))
        self.serial += 1
        record: dict[str, Any] = {"id": options["id"], "path": path, "arrived": arrived, "read": read, "first": None}
        self.requests.append(record)
        model = str(body.get("model") or "claude")
        message_id = f"msg_stamped{self.serial:06d}"
        count, every = int(options["chunks"]), options["every"] / 1000
        if body.get("stream") is False:
            text = "".join(f"[[ts:{time.monotonic():.6f}#{i}]] " for i in range(count))
            reply = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "stop_reason": "end_turn",
            }
            reply |= {
                "content": [{"type": "text", "text": text}],
                "usage": {"input_tokens": 12, "output_tokens": count},
            }
            return await self.json(writer, 200, reply | {"credits_consumed": 0.01})
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        start = {"id": message_id, "type": "message", "role": "assistant", "content": [], "model": model}
        start |= {"stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
        writer.write(
            f"{head}Transfer-Encoding: chunked\r\n\r\n".encode()
            + chunk(sse("message_start", {"type": "message_start", "message": start}))
        )
        await writer.drain()
        first_at = read + options["delay"] / 1000
        for i in range(count):
            wait = first_at + i * every - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            out = b""
            if i == 0:
                block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
                out = chunk(sse("content_block_start", block))
            now = time.monotonic()
            delta = {"type": "text_delta", "text": f"[[ts:{now:.6f}#{i}]] "}
            writer.write(
                out + chunk(sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
            )
            if i == 0:
                record["first"] = now
            await writer.drain()
        final = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}}
        final |= {"usage": {"output_tokens": count}, "credits_consumed": 0.01}
        writer.write(
            chunk(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
            + chunk(sse("message_delta", final))
            + chunk(sse("message_stop", {"type": "message_stop"}))
            + b"0\r\n\r\n"
        )
        await writer.drain()
        return True


async def serve(port: int) -> None:
    stamped = Stamped()
    server = await asyncio.start_server(stamped.handle, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
