"""The collector tuned for a serving process (``autotrader_core.gc_tuning``)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from autotrader_core.gc_tuning import SERVING_THRESHOLDS, tune_for_serving


@pytest.fixture
def restored_collector() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_collector")
def test_tuning_freezes_the_start_up_heap_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    assert tune_for_serving() == before  # what to restore, for a caller that wants to
    assert gc.get_threshold() == SERVING_THRESHOLDS
    assert gc.get_freeze_count() > 0  # the modules and state alive now are never scanned again


@pytest.mark.usefixtures("restored_collector")
def test_cyclic_garbage_made_after_tuning_is_still_collected() -> None:
    tune_for_serving()

    class Node:
        def __init__(self) -> None:
            self.me = self

    node = Node()
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None
