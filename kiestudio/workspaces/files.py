"""The stored files a workspace holds, for deleting them with it.

Tenancy sits below the features, so it can't know their files: each feature registers, when its app is ready,
a collector (every stored file name of a workspace's rows) and a sweeper (deletes those of the names no
remaining row points at; demo data and copies can share files). Deleting a workspace collects before its rows
go, and the worker sweeps in batches after the deletion commits."""

from __future__ import annotations

from collections.abc import Callable

from django_q.tasks import async_task

from kiestudio.workspaces.models import Workspace

Collector = Callable[[Workspace], set[str]]
Sweeper = Callable[[set[str]], None]
BATCH = 500

_owners: dict[str, tuple[Collector, Sweeper]] = {}


def workspace_files_register(owner: str, *, collect: Collector, sweep: Sweeper) -> None:
    _owners[owner] = (collect, sweep)


def workspace_files(workspace: Workspace) -> dict[str, list[str]]:
    """Each registered owner's stored files in ``workspace``."""
    return {owner: sorted(collect(workspace)) for owner, (collect, _) in sorted(_owners.items())}


def workspace_files_delete_later(held: dict[str, list[str]]) -> None:
    for owner, names in held.items():
        for start in range(0, len(names), BATCH):
            async_task(
                "kiestudio.workspaces.tasks.files_delete_task", names[start : start + BATCH], owner, group="cleanup"
            )


def workspace_files_sweep(names: list[str], owner: str) -> None:
    """Delete ``names`` through the owner's sweeper (the owner registered it at start, in the worker too)."""
    _owners[owner][1](set(names))
