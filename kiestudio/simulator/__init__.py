"""An offline Kie.ai API simulator (ASGI, Starlette). Imports nothing from Django.

``create_app(SimulatorConfig(...))`` builds the app; ``kiestudio.simulator.testing.start_simulator`` runs it
in a thread for tests; ``python -m kiestudio.simulator`` serves it. See README.md in this folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import SimulatorConfig

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .testing import RunningSimulator

__all__ = ["SimulatorConfig", "create_app", "start_simulator"]


# The two functions import their modules when called, not at the top: ``import kiestudio.simulator`` (for the
# config) then stays cheap, without Starlette, Pillow and every route module.


def create_app(config: SimulatorConfig | None = None) -> Starlette:
    from .app import create_app as _create_app

    return _create_app(config)


def start_simulator(config: SimulatorConfig | None = None) -> RunningSimulator:
    from .testing import start_simulator as _start

    return _start(config)
