"""Process plumbing for the studio's own supervisors (``runstudio``, ``runworker``, ``runcluster``).

Two guarantees, both needed because SIGKILL can't be caught:

- **Nothing outlives its parent.** Every process we start asks Linux for a parent-death signal
  (``prctl(PR_SET_PDEATHSIG)``), and the worker cluster passes the request on to every process it forks, so
  killing the top of the tree ends the whole tree. Where prctl doesn't exist (macOS), the supervisors also
  watch their parent's pid.
- **A stop has a bound.** A process tree is asked to stop with SIGTERM and, if any of it is still there after a
  bound, ended with SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM, *, parent: int | None = None) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies. False where that can't be done.

    ``parent`` is the pid the caller expects as parent: if it already died (between fork and this call), the
    signal is sent now, since the kernel would never send it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return False
    if prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)
    return True


def pass_death_signal_to_forks(sig: int = signal.SIGKILL) -> None:
    """Every process forked from this one from now on (and from those, and so on) dies with its parent."""
    os.register_at_fork(after_in_child=lambda: die_with_parent(sig))


def preexec_dying_with_us(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` for subprocess.Popen: the child gets ``sig`` when the calling process dies."""
    parent = os.getpid()

    def setup() -> None:
        die_with_parent(sig, parent=parent)

    return setup


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc; empty where there is no /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name (field 2) may hold spaces and parentheses: split after its last ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def descendants_of(pid: int) -> list[int]:
    """Every process below ``pid``, parents before their children."""
    out: list[int] = []
    frontier = [pid]
    while frontier:
        children = [child for parent in frontier for child in children_of(parent)]
        out.extend(children)
        frontier = children
    return out


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return state not in ("Z", "X")


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_tree(pid: int, *, bound: float, reap: Callable[[float], object] | None = None) -> bool:
    """SIGTERM ``pid`` (which stops what is below it in its own order); whatever of the tree is left after
    ``bound`` seconds gets SIGKILL.

    ``reap`` waits for ``pid`` itself (for example ``Popen.wait``) so it doesn't stay a zombie. Returns True
    if the tree ended within the bound, False if SIGKILL was needed."""
    tree = [pid, *descendants_of(pid)]
    signal_all([pid], signal.SIGTERM)
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if reap is not None:
            with contextlib.suppress(Exception):
                reap(0.05)
        tree = [p for p in tree if alive(p)]
        if not tree:
            return True
        time.sleep(0.1)
    tree = [p for p in [pid, *descendants_of(pid), *tree] if alive(p)]
    signal_all(tree, signal.SIGKILL)
    if reap is not None:
        with contextlib.suppress(Exception):
            reap(5)
    return False
