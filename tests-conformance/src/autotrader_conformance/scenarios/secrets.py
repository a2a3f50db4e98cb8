"""TC-SEC: known secret values never appear in logs, errors, reprs or what a journal would store.

The adapter's test class says which secret strings its ``make_adapter`` put
into the settings through an optional hook::

    def secrets(self) -> list[str]:
        return ["test-key", "test-secret"]

Without the hook the scenarios are skipped with that reason. With it, the
scenario runs with every logger captured at DEBUG and then searches, for each
secret: every log record (message, arguments, formatted traceback), every
exception raised (text, repr, args, broker message, payload, the whole
cause/context chain and its traceback), ``repr``/``str`` of the adapter and its
settings, and the ``repr`` of every event, report and fill the adapter
returned (what the engine journals).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from autotrader_core.adapter import BrokerAdapter
from autotrader_core.errors import AuthenticationError, AutotraderError
from autotrader_core.journal.codec import dumps, encode_fill, encode_order

from autotrader_conformance.scenario import Scenario
from autotrader_conformance.scenarios._base import ScenarioBase, scenario
from autotrader_conformance.scenarios._checks import expect_error
from autotrader_conformance.scenarios.errors import _connect_and_read_balances
from autotrader_conformance.scenarios.faults import FaultRun, order_lifecycle

__all__ = ["SecretScenarios", "capture_logs", "texts_of_exception"]

_NO_HOOK = (
    "the test class has no secrets() hook returning the secret values make_adapter puts into the "
    "settings; add `def secrets(self) -> list[str]` so the kit can check they never leak"
)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        found = []
        for record in self.records:
            found.append(self.format(record))  # message with arguments, plus the traceback if any
            found.append(repr(record.args))
            found.append(repr(record.__dict__.get("extra", "")))
        return found


@contextmanager
def capture_logs() -> Iterator[_Collect]:
    """Every log record of every logger at DEBUG, for the duration."""
    handler = _Collect()
    root = logging.getLogger()
    before = root.level
    loggers = [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    levels = {lg: lg.level for lg in loggers}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for lg in loggers:
        if lg.level > logging.DEBUG:
            lg.setLevel(logging.DEBUG)
        if not lg.propagate:
            lg.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(before)
        for lg, level in levels.items():
            lg.setLevel(level)
            if handler in lg.handlers:
                lg.removeHandler(handler)


def texts_of_exception(error: BaseException) -> list[str]:
    """Everything an exception shows: text, repr, args, broker fields, chain and traceback."""
    found: list[str] = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found += [str(current), repr(current), repr(current.args)]
        if isinstance(current, AutotraderError):
            found += [str(current.broker_message or ""), repr(getattr(current, "payload", None))]
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                stack.append(linked)
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
    return found


def _shown_by(adapter: BrokerAdapter) -> list[str]:
    """repr/str of the adapter (and what it wraps) and of its settings."""
    found: list[str] = []
    current: Any = adapter
    while current is not None:
        found += [repr(current), str(current)]
        for name in ("settings", "_settings", "config"):
            settings = getattr(current, name, None)
            if settings is None:
                continue
            found += [repr(settings), str(settings)]
            dump = getattr(settings, "model_dump_json", None)
            if callable(dump):
                found.append(str(dump()))
        current = getattr(current, "inner", None)
    return found


class SecretScenarios(ScenarioBase):
    """TC-SEC-01/02 (run when the test class has a ``secrets()`` hook)."""

    def _known_secrets(self, scenario_id: str) -> list[str]:
        hook = getattr(self, "secrets", None)
        if not callable(hook):
            pytest.skip(f"{scenario_id}: {_NO_HOOK}")
        values = [str(value) for value in hook()]
        assert values, f"{scenario_id}: secrets() returned no value"
        short = [value for value in values if len(value) < 6]
        assert not short, f"{scenario_id}: secrets() values must be at least 6 characters: {short!r}"
        return values

    @staticmethod
    def _assert_nothing_leaked(scenario_id: str, secrets: list[str], places: dict[str, list[str]]) -> None:
        leaks = [
            f"{where}: ...{text[max(0, text.find(secret) - 60) : text.find(secret) + len(secret) + 20]!r}"
            for where, texts in places.items()
            for text in texts
            for secret in secrets
            if secret in text
        ]
        assert not leaks, f"{scenario_id}: secret values leaked:\n" + "\n".join(
            f"  - {leak}" for leak in leaks
        )

    @scenario("TC-SEC-01")
    async def test_sec_01_no_secret_in_order_lifecycle(self, conformance_scenario: Scenario) -> None:
        """TC-RES-03's timed-out submit, with a 503 on the lookup: no secret anywhere."""
        secrets = self._known_secrets("TC-SEC-01")
        with capture_logs() as logs:
            async with self.session(conformance_scenario) as session:
                run = FaultRun(session, "TC-SEC-01", self.retry_policy())
                with run.active():
                    order = await order_lifecycle(
                        run, submit_fault="timeout_after", lookup_fault="status_503"
                    )
                shown = _shown_by(run.adapter)
        journaled = [
            repr(order),
            *(repr(fill) for fill in run.oms.fills_for(order.client_order_id)),
            # the exact rows the engine's journal writes for this order and its fills
            dumps(encode_order(order)),
            *(dumps(encode_fill(fill)) for fill in run.oms.fills_for(order.client_order_id)),
        ]
        errors = [text for _, error in run.adapter.raised for text in texts_of_exception(error)]
        assert run.adapter.raised, "TC-SEC-01: the injected faults raised nothing to inspect"
        self._assert_nothing_leaked(
            "TC-SEC-01",
            secrets,
            {"log record": logs.texts(), "exception": errors, "repr": shown, "journaled object": journaled},
        )

    @scenario("TC-SEC-02")
    async def test_sec_02_no_secret_on_bad_credentials(self, conformance_scenario: Scenario) -> None:
        """TC-ERR-04's refused credentials: no secret in the error, the logs or the reprs."""
        secrets = self._known_secrets("TC-SEC-02")
        with capture_logs() as logs:
            async with self.session(conformance_scenario) as session:
                adapter = session.adapter
                if session.faults is not None:
                    await adapter.connect()
                    session.faults.fail_next(
                        "get_balances",
                        AuthenticationError("invalid API key", broker=adapter.name, code="401"),
                    )
                with expect_error(AuthenticationError, "TC-SEC-02: bad credentials") as caught:
                    await _connect_and_read_balances(adapter)
                shown = _shown_by(adapter)
        self._assert_nothing_leaked(
            "TC-SEC-02",
            secrets,
            {"log record": logs.texts(), "exception": texts_of_exception(caught.value), "repr": shown},
        )
