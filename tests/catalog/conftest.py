from __future__ import annotations

import pytest

from kiestudio.kie.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()
