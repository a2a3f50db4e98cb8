"""FaultQueue: planned failures per operation, first in first out (paper's and the kit's fault injection)."""

from __future__ import annotations

import pytest
from autotrader_core.errors import BrokerUnavailable, RequestTimeout
from autotrader_core.fault_plan import FAULT_OPERATIONS, FaultQueue


def test_failures_are_taken_in_order_per_operation() -> None:
    faults = FaultQueue(broker="paper")
    timeout = RequestTimeout("lost")
    faults.fail_next("submit", timeout, after_apply=True)
    faults.fail_next("submit")
    faults.fail_next("cancel", times=2)
    assert faults.pending() == 4 and faults.pending("cancel") == 2 and bool(faults)
    first = faults.take("submit")
    assert first is not None and first.error is timeout and first.after_apply
    second = faults.take("submit")
    assert second is not None and isinstance(second.error, BrokerUnavailable) and not second.after_apply
    assert second.error.broker == "paper" and "paper broker unavailable (submit)" in str(second.error)
    assert faults.take("submit") is None
    faults.clear("cancel")
    assert faults.pending() == 0 and not faults


def test_unknown_operations_and_bad_counts_are_refused() -> None:
    faults = FaultQueue()
    with pytest.raises(ValueError, match="unknown operation 'sumbit'"):
        faults.fail_next("sumbit")
    with pytest.raises(ValueError, match="times must be at least 1"):
        faults.fail_next("submit", times=0)
    assert "get_fills" in FAULT_OPERATIONS
