"""``manage.py seed_demo --generations N``: a realistic demo gallery, fast (see ``kiestudio.gallery.demo.seed``).

Run it again to add another batch: without ``--workspace-name`` it makes a new workspace, with it it adds to the
workspace of that name (creating it when missing). The demo people are shared between runs.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kiestudio.gallery.demo import DEMO_PASSWORD, PoolFile, SeedResult, build_pool, search_works, seed_demo

# The seeder's API, importable from here as before (tests and the benchmarks use it).
__all__ = ["DEMO_PASSWORD", "PoolFile", "SeedResult", "build_pool", "search_works", "seed_demo", "Command"]


class Command(BaseCommand):
    help = "Create a realistic demo gallery fast: a team workspace with N generations, real files, collections."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--generations", type=int, required=True, help="How many generations to create.")
        parser.add_argument(
            "--workspace-name", default=None, help="Add to this workspace (created when missing); default: a new one."
        )
        parser.add_argument("--members", type=int, default=5, help="People in the workspace (default 5).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")

    def handle(self, *args, generations: int, workspace_name: str | None, members: int, seed: int, **options) -> None:
        if generations < 0:
            raise CommandError("--generations must be 0 or more.")
        if members < 1:
            raise CommandError("--members must be at least 1.")
        result = seed_demo(generations=generations, workspace_name=workspace_name, members=members, seed=seed)
        if not search_works(result):
            raise CommandError("Seeded, but prompt search finds nothing: is the search migration applied?")
        self.stdout.write(result.summary())
