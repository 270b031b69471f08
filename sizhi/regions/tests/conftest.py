from __future__ import annotations

from collections.abc import Iterator

import pytest

from sizhi.regions import spatial
from sizhi.regions.tests.factories import Tree, make_tree


@pytest.fixture(autouse=True)
def _fresh_grid_index() -> Iterator[None]:
    # Each test runs in its own rolled-back transaction; an index from another test's grids
    # must never answer here.
    spatial.reset_grid_index()
    yield
    spatial.reset_grid_index()


@pytest.fixture
def tree(db: None) -> Tree:
    return make_tree()
