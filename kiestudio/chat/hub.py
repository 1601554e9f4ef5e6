"""Fan-out of live replies: a runner publishes numbered events, any number of readers follow them.

- :class:`LocalHub` (the embedded default) keeps each live reply's events in this process.
- :class:`RedisHub` (``REDIS_URL`` set) also appends every event to a Redis stream, for readers that join late
  or reconnect with ``Last-Event-ID``, and publishes it on a pub/sub channel that one listener per process
  hands to that process's readers. A reader in any web process follows a reply run by any other.

Stop requests travel the same way: a local call, or a message on ``kiestudio:chat:stop`` that every process
checks against the replies it runs.

Pure asyncio plus redis-py; nothing here touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

log = logging.getLogger("kiestudio.chat")

__all__ = ["Event", "LocalHub", "RedisHub", "get_hub"]

KEEPALIVE_SECONDS = 15.0
LINGER_SECONDS = 60.0  # a finished reply's events stay this long for readers that arrive late
STREAM_TTL_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    name: str  # delta | think | block | done
    data: str  # JSON text

    def encode(self) -> str:
        return f"id: {self.seq}\nevent: {self.name}\ndata: {self.data}\n\n"


class Channel:
    """One reply's events in this process. Pushing is thread-safe; readers may sit on any event loop."""

    __slots__ = ("_lock", "_waiters", "closed", "closed_at", "events")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False
        self.closed_at = 0.0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._lock = threading.Lock()

    def push(self, event: Event) -> None:
        with self._lock:
            if self.events and event.seq <= self.events[-1].seq:
                return  # a replayed duplicate
            self.events.append(event)
            if event.name == "done":
                self.closed = True
                self.closed_at = time.monotonic()
            waiters, self._waiters = self._waiters, []
        _wake(waiters)

    def prepend(self, backlog: list[Event]) -> None:
        """Put replayed events before the live ones that arrived meanwhile (before anyone reads)."""
        with self._lock:
            last = backlog[-1].seq if backlog else -1
            self.events = backlog + [e for e in self.events if e.seq > last]
            if any(e.name == "done" for e in backlog):
                self.closed = True

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self.closed_at = time.monotonic()
            waiters, self._waiters = self._waiters, []
        _wake(waiters)

    async def read(self, after: int, *, keepalive: float) -> AsyncIterator[Event | None]:
        """Events with ``seq > after``, then live ones; ``None`` after ``keepalive`` seconds of quiet."""
        index = 0
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                pending = self.events[index:]
                index = len(self.events)
                closed = self.closed
                waiter = None
                if not pending and not closed:
                    waiter = loop.create_future()
                    self._waiters.append((loop, waiter))
            for event in pending:
                if event.seq > after:
                    yield event
                    if event.name == "done":
                        return
            if waiter is None:
                if closed:
                    return
                continue
            try:
                await asyncio.wait_for(waiter, keepalive)
            except TimeoutError:
                yield None


def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
    def settle(future: asyncio.Future[None]) -> None:
        if not future.done():
            future.set_result(None)

    for loop, future in waiters:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            settle(future)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(settle, future)


class LocalHub:
    """Everything in this process: the embedded default (one web process)."""

    shared = False

    def __init__(self) -> None:
        self._channels: dict[int, Channel] = {}
        self._lock = threading.Lock()
        self.stop_handler: Callable[[int], None] | None = None

    def _sweep(self) -> None:
        now = time.monotonic()
        for key, channel in list(self._channels.items()):
            if channel.closed and now - channel.closed_at > LINGER_SECONDS:
                self._channels.pop(key, None)

    def open(self, message_id: int) -> None:
        """A reply starts here: readers may follow it from now on."""
        with self._lock:
            self._sweep()
            self._channels[message_id] = Channel()

    async def publish(self, message_id: int, event: Event) -> None:
        channel = self._channels.get(message_id)
        if channel is not None:
            channel.push(event)

    def discard(self, message_id: int) -> None:
        channel = self._channels.get(message_id)
        if channel is not None:
            channel.close()

    async def follow(self, message_id: int, after: int, *, keepalive: float = KEEPALIVE_SECONDS):
        """Events of a reply followed from here; ends at once when this process has none for it."""
        channel = self._channels.get(message_id)
        if channel is None:
            return
        async for event in channel.read(after, keepalive=keepalive):
            yield event

    def request_stop(self, message_id: int) -> None:
        if self.stop_handler is not None:
            self.stop_handler(message_id)

    async def ensure_listener(self) -> None:
        return None

    async def announce_alive(self, runner_id: str) -> None:
        return None

    async def runner_alive(self, runner_id: str) -> bool | None:
        """None: this hub can't tell (the caller then judges by the heartbeat)."""
        return None


class RedisHub(LocalHub):
    """Events in Redis: replay from a stream, live through one pub/sub listener per process."""

    shared = True
    PREFIX = "kiestudio:chat:"
    STOP_CHANNEL = "kiestudio:chat:stop"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
            weakref.WeakKeyDictionary()
        )
        self._ready: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = weakref.WeakKeyDictionary()
        self._followers: dict[int, set[Channel]] = {}  # each local reader's channel, fed by the listener
        self._sync_client = None
        self._last_warning = 0.0

    # -- connections, one async client per event loop -------------------------------------------------

    def _client(self):
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = aioredis.Redis.from_url(self.url, max_connections=64)
            self._clients[loop] = client
        return client

    def _sync(self):
        if self._sync_client is None:
            import redis

            self._sync_client = redis.Redis.from_url(self.url, socket_timeout=5)
        return self._sync_client

    def _stream_key(self, message_id: int) -> str:
        return f"{self.PREFIX}s:{message_id}"

    def _live_channel(self, message_id: int) -> str:
        return f"{self.PREFIX}p:{message_id}"

    # -- publishing ------------------------------------------------------------------------------------

    def open(self, message_id: int) -> None:
        """Create the reply's stream before anyone can ask for it (a ``start`` marker at seq 0)."""
        key = self._stream_key(message_id)
        try:
            pipe = self._sync().pipeline()  # a stream left from an earlier database with the same ids goes first
            pipe.delete(key)
            pipe.xadd(key, {"n": "start", "d": "{}"}, id="0-1")
            pipe.expire(key, STREAM_TTL_SECONDS)
            pipe.execute()
        except Exception as exc:  # readers then follow the reply through the database
            log.warning("chat stream could not be opened in Redis (%s)", type(exc).__name__)

    async def publish(self, message_id: int, event: Event) -> None:
        """Append and announce; a Redis outage never stops a reply (readers then follow the database)."""
        key = self._stream_key(message_id)
        pipe = self._client().pipeline(transaction=False)
        pipe.xadd(key, {"n": event.name, "d": event.data}, id=f"{event.seq}-0", maxlen=20000, approximate=True)
        if event.seq == 1 or event.name == "done":
            pipe.expire(key, STREAM_TTL_SECONDS)
        pipe.publish(self._live_channel(message_id), f"{event.seq}\n{event.name}\n{event.data}")
        try:
            await pipe.execute()
        except Exception as exc:
            now = time.monotonic()
            if now - self._last_warning > 5:
                self._last_warning = now
                log.warning("chat event not published to Redis (%s); readers fall back to the database", exc)

    def discard(self, message_id: int) -> None:
        return None

    # -- following -------------------------------------------------------------------------------------

    async def ensure_listener(self) -> None:
        """Start this process's listener (once per event loop) and wait until it is subscribed."""
        loop = asyncio.get_running_loop()
        task = self._listeners.get(loop)
        if task is None or task.done():
            self._ready[loop] = asyncio.Event()
            self._listeners[loop] = loop.create_task(self._listen(self._ready[loop]), name="chat-hub-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready[loop].wait(), 5)

    async def _listen(self, ready: asyncio.Event) -> None:
        """One pub/sub connection per process: live events for local readers, and stop requests."""
        while True:
            pubsub = self._client().pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(f"{self.PREFIX}p:*")
                await pubsub.subscribe(self.STOP_CHANNEL)
                ready.set()
                async for item in pubsub.listen():
                    channel = item["channel"].decode()
                    data = item["data"].decode()
                    if channel == self.STOP_CHANNEL:
                        if data.isdigit() and self.stop_handler is not None:
                            self.stop_handler(int(data))
                        continue
                    message_id = int(channel.rsplit(":", 1)[1])
                    readers = self._followers.get(message_id)
                    if readers:
                        seq, name, payload = data.split("\n", 2)
                        event = Event(int(seq), name, payload)
                        for channel in list(readers):
                            channel.push(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarted or flushed: reconnect, readers re-sync from the stream
                ready.clear()
                log.warning("chat hub listener lost Redis (%s); reconnecting", type(exc).__name__)
                for readers in list(self._followers.values()):
                    for channel in list(readers):
                        channel.close()
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def follow(self, message_id: int, after: int, *, keepalive: float = KEEPALIVE_SECONDS):
        await self.ensure_listener()
        channel = Channel()  # one per reader: the listener feeds every reader of this reply in this process
        self._followers.setdefault(message_id, set()).add(channel)
        try:
            # Subscribed first, then the backlog, so nothing published in between is missed.
            client = self._client()
            key = self._stream_key(message_id)
            backlog = await client.xrange(key, min=f"{after + 1}-0")
            if not backlog and not channel.events and not await client.exists(key):
                return
            replay = [
                Event(int(entry_id.split(b"-")[0]), fields[b"n"].decode(), fields[b"d"].decode())
                for entry_id, fields in backlog
                if not entry_id.startswith(b"0-")
            ]
            channel.prepend(replay)
            async for event in channel.read(after, keepalive=keepalive):
                yield event
        finally:
            readers = self._followers.get(message_id)
            if readers is not None:
                readers.discard(channel)
                if not readers:
                    self._followers.pop(message_id, None)

    # -- control ---------------------------------------------------------------------------------------

    def request_stop(self, message_id: int) -> None:
        try:
            self._sync().publish(self.STOP_CHANNEL, str(message_id))
        except Exception as exc:  # the database flag still stops it at the next flush
            log.warning("chat stop could not be published (%s)", type(exc).__name__)
        super().request_stop(message_id)

    async def announce_alive(self, runner_id: str) -> None:
        await self._client().set(f"{self.PREFIX}proc:{runner_id}", "1", ex=15)

    async def runner_alive(self, runner_id: str) -> bool | None:
        try:
            return bool(await self._client().exists(f"{self.PREFIX}proc:{runner_id}"))
        except Exception:
            return None


@cache
def _hub_for(url: str | None) -> LocalHub:
    return RedisHub(url) if url else LocalHub()


def get_hub() -> LocalHub:
    from django.conf import settings

    return _hub_for(settings.REDIS_URL or None)
