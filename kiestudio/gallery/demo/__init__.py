"""Demo data for ``make run`` and the benchmarks (``manage.py seed_demo``); ``seed`` says how it is made.

- ``seed``: ``seed_demo`` puts it all together, ``search_works`` checks the prompt search found it;
- ``people``: the demo people and their workspace;
- ``vocabulary``: what the prompts say;
- ``pool``: the real files the assets share;
- ``generations``: the generations, their prompts and assets, and the trash;
- ``curation``: collections and favourites;
- ``bulk``: writing the big tables fast.
"""

from __future__ import annotations

from kiestudio.gallery.demo.people import DEMO_PASSWORD
from kiestudio.gallery.demo.pool import PoolFile, build_pool
from kiestudio.gallery.demo.seed import SeedResult, search_works, seed_demo

__all__ = ["DEMO_PASSWORD", "PoolFile", "SeedResult", "build_pool", "search_works", "seed_demo"]
