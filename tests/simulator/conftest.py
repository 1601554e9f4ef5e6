from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from kiestudio.simulator import SimulatorConfig
from kiestudio.simulator.testing import RunningSimulator, start_simulator

from .helpers import AUTH, Receiver, fast_config


@pytest.fixture
def make_sim() -> Iterator[Callable[..., RunningSimulator]]:
    started: list[RunningSimulator] = []

    def factory(config: SimulatorConfig | None = None, **overrides: Any) -> RunningSimulator:
        running = start_simulator(config or fast_config(**overrides))
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()


@pytest.fixture
def kie(make_sim) -> RunningSimulator:
    return make_sim()


@pytest.fixture
def client(kie: RunningSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=kie.base_url, headers=AUTH, timeout=10) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
