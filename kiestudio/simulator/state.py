"""In-memory state of one simulator: tasks, balance, request log, limiters, uploads and media cache."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from .config import SimulatorConfig
from .markers import Markers
from .media import MediaItem

TERMINAL = ("success", "fail")
KINDS = ("create", "read", "upload", "chat", "credit", "other")


@dataclass
class LogEntry:
    t: float  # time.monotonic() when the request arrived
    method: str
    path: str
    kind: str
    status: int  # HTTP status
    task_id: str | None = None
    model: str | None = None
    code: int | None = None  # body ``code`` when the answer was a JSON envelope

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """Every API request the simulator answered (control endpoints excluded), in arrival order."""

    def __init__(self, limit: int = 20000):
        self.limit = limit
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()

    def append(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > self.limit:
                del self._entries[: len(self._entries) - self.limit]

    @property
    def entries(self) -> list[LogEntry]:
        with self._lock:
            return sorted(self._entries, key=lambda e: e.t)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self.entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def of_kind(self, kind: str) -> list[LogEntry]:
        return [e for e in self.entries if e.kind == kind]

    def creates_in_window(self, window: float, *, include_rejected: bool = False) -> int:
        """The most create requests that arrived within any sliding ``window`` seconds.

        Rate-limited creates (HTTP or body 429) are left out unless ``include_rejected``.
        """
        times = [
            e.t
            for e in self.entries
            if e.kind == "create" and (include_rejected or (e.status != 429 and e.code != 429))
        ]
        best = 0
        start = 0
        for end, t in enumerate(times):
            while t - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def polls_per_task(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for e in self.entries:
            if e.kind == "read" and e.task_id:
                counts[e.task_id] = counts.get(e.task_id, 0) + 1
        return counts

    def to_list(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.entries]


class SlidingWindow:
    def __init__(self) -> None:
        self.times: deque[float] = deque()

    def allow(self, now: float, limit: int, window: float) -> bool:
        while self.times and now - self.times[0] >= window:
            self.times.popleft()
        if len(self.times) >= limit:
            return False
        self.times.append(now)
        return True

    def clear(self) -> None:
        self.times.clear()


@dataclass
class Task:
    """One asynchronous job. Its state is computed lazily from the clock."""

    task_id: str
    family: str  # market | veo | suno | gpt4o_image | flux_kontext | runway | aleph
    op: str  # generate, extend, lyrics, wav, vocal_removal, midi, mp4, 4k, upload_cover, ...
    model: str | None
    body: dict[str, Any]  # the request body as received
    prompt: str
    callback_url: str | None
    created_wall: float
    created_mono: float
    phases: tuple[float, float, float]  # seconds in waiting, queuing, generating
    base_url: str
    fail: tuple[str, str] | None = None  # (code, message) when the task is going to fail
    outputs: list[MediaItem] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: The prompt markers of its create call (documented shape variants are pinned by them).
    markers: Markers | None = None
    credits: Decimal = Decimal(0)
    spec_key: str | None = None
    callbacks_sent: list[str] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(self.phases)

    @property
    def end_mono(self) -> float:
        return self.created_mono + self.total_seconds

    @property
    def end_wall(self) -> float:
        return self.created_wall + self.total_seconds

    def state(self, now: float) -> str:
        if now >= self.end_mono:
            return "fail" if self.fail else "success"
        elapsed = now - self.created_mono
        waiting, queuing, _ = self.phases
        if elapsed < waiting:
            return "waiting"
        if elapsed < waiting + queuing:
            return "queuing"
        return "generating"

    def progress(self, now: float) -> float:
        """0.0 .. 1.0 through the generating phase (1.0 once finished)."""
        waiting, queuing, generating = self.phases
        elapsed = now - self.created_mono - waiting - queuing
        if generating <= 0:
            return 1.0 if elapsed >= 0 else 0.0
        return max(0.0, min(1.0, elapsed / generating))

    def at_fraction(self, fraction: float) -> float:
        """Monotonic time at ``fraction`` of the task's whole duration."""
        return self.created_mono + self.total_seconds * fraction

    def is_done(self, now: float) -> bool:
        return self.state(now) in TERMINAL

    def url(self, item: MediaItem) -> str:
        return f"{self.base_url}/_sim/media/{self.task_id}/{item.name}"

    def output(self, name: str) -> MediaItem:
        """The output called ``name``, for names the task recorded itself."""
        item = self.item(name)
        assert item is not None, name
        return item

    def item(self, name: str) -> MediaItem | None:
        for item in self.outputs:
            if item.name == name:
                return item
        return None

    def summary(self, now: float) -> dict[str, Any]:
        return {
            "taskId": self.task_id,
            "family": self.family,
            "op": self.op,
            "model": self.model,
            "spec": self.spec_key,
            "state": self.state(now),
            "prompt": self.prompt,
            "callBackUrl": self.callback_url,
            "createTime": int(self.created_wall * 1000),
            "seconds": self.total_seconds,
            "credits": float(self.credits),
            "fail": list(self.fail) if self.fail else None,
            "outputs": [self.url(item) for item in self.outputs],
            "callbacksSent": list(self.callbacks_sent),
        }


@dataclass
class Upload:
    path: str
    data: bytes
    mime: str
    uploaded_wall: float


class SimState:
    """Everything one simulator instance knows. Exposed as ``app.state.sim``."""

    def __init__(self, config: SimulatorConfig):
        config.validate()
        self.config = config
        self.log = RequestLog(config.log_limit)
        self.tasks: dict[str, Task] = {}
        self.uploads: dict[str, Upload] = {}
        self.callback_log: list[dict[str, Any]] = []
        self.media_cache: OrderedDict[str, bytes] = OrderedDict()
        self.create_window = SlidingWindow()
        self.read_window = SlidingWindow()
        self.veo_1080p_calls: dict[tuple[str, int], int] = {}
        self.veo_4k: dict[tuple[str, int], Task] = {}
        self.background: set[asyncio.Task[Any]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.shutdown: asyncio.Event | None = None
        self.http_client: Any = None  # httpx.AsyncClient for callbacks, made in the server's loop
        self.lock = threading.RLock()
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.balance = Decimal(str(self.config.balance))
        self.counter = 0
        # Chat streams being sent now, and how many ended because the client went away before the last event.
        self.chat_streams_open = 0
        self.chat_streams_abandoned = 0
        self.chat_timings: list[list[float]] = []  # per finished stream: time.monotonic() of each text chunk
        self.fault_rng = random.Random(f"faults:{self.config.seed}")

    # ------------------------------------------------------------------ public helpers

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def reset(self) -> None:
        """Forget tasks, uploads, logs and windows; restore the balance and reseed. Pending callbacks are cancelled."""
        for job in list(self.background):
            job.cancel()
        self.background.clear()
        with self.lock:
            self.log.limit = self.config.log_limit
            self.log.clear()
            self.tasks.clear()
            self.uploads.clear()
            self.callback_log.clear()
            self.media_cache.clear()
            self.create_window.clear()
            self.read_window.clear()
            self.veo_1080p_calls.clear()
            self.veo_4k.clear()
            self._reset_counters()

    def set_balance(self, value: Decimal | float | int | str) -> None:
        self.balance = Decimal(str(value))

    def next_hash(self, purpose: str) -> str:
        """64 hex chars, unique per call and reproducible for a given seed and call order."""
        with self.lock:
            self.counter += 1
            count = self.counter
        return hashlib.sha256(f"{self.config.seed}:{count}:{purpose}".encode()).hexdigest()

    def new_task_id(self, family: str) -> str:
        digest = self.next_hash(family)
        if family == "veo":
            return f"veo_task_{digest[:20]}"
        if family in ("runway", "aleph"):
            return str(uuid.UUID(digest[:32]))
        return digest[:32]

    def variant(self, name: str, key: object, choices: tuple[str, ...], markers: Markers | None = None) -> str:
        """Which of Kie's documented shapes answers for ``key`` (a task id): a marker's or the config's pin, else
        a coin seeded by the simulator's seed and the key, so a task always gets the same shape."""
        pinned = (markers.variants.get(name) if markers else None) or (self.config.variants or {}).get(name)
        if pinned in choices:
            return pinned
        digest = hashlib.sha256(f"{self.config.seed}:variant:{name}:{key}".encode()).digest()
        return choices[digest[0] % len(choices)]

    def uuid_for(self, *parts: object) -> str:
        digest = hashlib.sha256(":".join(str(p) for p in (self.config.seed, *parts)).encode()).hexdigest()
        return str(uuid.UUID(digest[:32]))

    def plan_phases(self, typical_seconds: float, markers: Markers | None = None) -> tuple[float, float, float]:
        if markers is not None and markers.after is not None:
            total = max(0.0, markers.after)
            return (total * 0.1, total * 0.1, total * 0.8)
        fixed = self.config.state_seconds
        if fixed:
            return (
                float(fixed.get("waiting", 0.0)),
                float(fixed.get("queuing", 0.0)),
                float(fixed.get("generating", 0.0)),
            )
        total = max(0.0, float(typical_seconds) * self.config.time_scale)
        return (total * 0.1, total * 0.1, total * 0.8)

    def add_task(self, task: Task) -> None:
        with self.lock:
            self.tasks[task.task_id] = task

    def get_task(self, task_id: str | None, *families: str) -> Task | None:
        task = self.tasks.get(task_id or "")
        if task is None or (families and task.family not in families):
            return None
        return task

    def cache_media(self, key: str, data: bytes) -> None:
        with self.lock:
            self.media_cache[key] = data
            self.media_cache.move_to_end(key)
            while len(self.media_cache) > max(1, self.config.media_cache_size):
                self.media_cache.popitem(last=False)

    def cached_media(self, key: str) -> bytes | None:
        with self.lock:
            data = self.media_cache.get(key)
            if data is not None:
                self.media_cache.move_to_end(key)
            return data

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        job = asyncio.get_running_loop().create_task(coro)
        self.background.add(job)
        job.add_done_callback(self.background.discard)
        return job
