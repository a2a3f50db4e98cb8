"""TC-ERR: broker refusals become the core's typed errors; nothing is lost on a bad reply."""

from __future__ import annotations

from decimal import Decimal

from autotrader_core.adapter import BrokerAdapter
from autotrader_core.enums import OrderSide, OrderType
from autotrader_core.errors import (
    AuthenticationError,
    BrokerProtocolError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
)
from autotrader_core.models import Order

from autotrader_conformance.scenario import Scenario
from autotrader_conformance.scenarios._base import ScenarioBase, scenario
from autotrader_conformance.scenarios._checks import assert_report_matches, check_error, expect_error

__all__ = ["ErrorScenarios"]


async def _connect_and_read_balances(adapter: BrokerAdapter) -> None:
    """A broker may refuse bad credentials at connect or at the first signed request."""
    if not adapter.is_connected:
        await adapter.connect()
    await adapter.get_balances()


class ErrorScenarios(ScenarioBase):
    """Error-mapping scenarios (all mandatory)."""

    @scenario("TC-ERR-01")
    async def test_err_01_insufficient_funds(self, conformance_scenario: Scenario) -> None:
        """An order the account cannot pay for raises InsufficientFunds with the broker's code."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            await session.adapter.connect()
            order = session.order()
            with expect_error(InsufficientFunds, f"{sc.id}: an order the account cannot pay for") as caught:
                await session.adapter.submit_order(order)
            check_error(caught.value, session.adapter, sc)

    @scenario("TC-ERR-02")
    async def test_err_02_unknown_order(self, conformance_scenario: Scenario) -> None:
        """Querying and canceling an order the broker does not know raise OrderNotFound."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            symbol, client_order_id = sc.text("symbol"), sc.text("client_order_id")
            with expect_error(OrderNotFound, f"{sc.id}: get_order of an unknown order") as caught:
                await adapter.get_order(symbol=symbol, client_order_id=client_order_id)
            check_error(caught.value, adapter, sc)
            ghost = Order(
                client_order_id=client_order_id,
                symbol=symbol,
                side=OrderSide.BUY,
                order_type=OrderType.LIMIT,
                quantity=Decimal(1),
                limit_price=Decimal(1),
                broker=adapter.name,
            )
            with expect_error(OrderNotFound, f"{sc.id}: cancel_order of an unknown order") as caught:
                await adapter.cancel_order(ghost)
            check_error(caught.value, adapter, sc)

    @scenario("TC-ERR-03")
    async def test_err_03_invalid_order(self, conformance_scenario: Scenario) -> None:
        """An order the broker refuses as invalid raises InvalidOrder (before or after sending)."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            await session.adapter.connect()
            with expect_error(InvalidOrder, f"{sc.id}: an order the broker refuses as invalid") as caught:
                await session.adapter.submit_order(session.order())
            check_error(caught.value, session.adapter, sc, local_ok=True)

    @scenario("TC-ERR-04")
    async def test_err_04_authentication_failure(self, conformance_scenario: Scenario) -> None:
        """Bad credentials raise AuthenticationError: not retryable, no secret in the message."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            if session.faults is not None:
                await adapter.connect()
                session.faults.fail_next(
                    "get_balances",
                    AuthenticationError("invalid API key", broker=adapter.name, code="401"),
                )
            with expect_error(AuthenticationError, f"{sc.id}: bad credentials") as caught:
                await _connect_and_read_balances(adapter)
            error = caught.value
            check_error(error, adapter, sc)
            assert not error.retryable, "AuthenticationError must never be retried"
            secrets = sc.value("secret_values", [])
            assert isinstance(secrets, list), f"{sc.id}: input.secret_values must be a list of strings"
            shown = f"{error} {error!r} {error.broker_message or ''} {error.args!r}"
            for secret in secrets:
                assert str(secret) not in shown, "a secret appears in the AuthenticationError"

    @scenario("TC-ERR-05")
    async def test_err_05_malformed_reply_loses_nothing(self, conformance_scenario: Scenario) -> None:
        """A submit reply that breaks the format raises BrokerProtocolError; the order is still found."""
        sc = conformance_scenario
        async with self.session(sc) as session:
            adapter = session.adapter
            await adapter.connect()
            order = session.order()
            if session.faults is not None:
                session.faults.fail_next(
                    "submit",
                    BrokerProtocolError("reply is not JSON", payload="<html>502</html>", broker=adapter.name),
                    after_apply=True,
                )
            with expect_error(BrokerProtocolError, f"{sc.id}: a malformed submit reply") as caught:
                await adapter.submit_order(order)
            error = caught.value
            assert error.payload is not None, "BrokerProtocolError must carry the offending payload"
            assert not error.retryable, "a malformed reply is not a reason to re-send the order blindly"
            report = await adapter.get_order(symbol=order.symbol, client_order_id=order.client_order_id)
            assert_report_matches(report, order, adapter, "get_order after the malformed reply")
            assert report.status.is_open, f"the order must still be working, status {report.status!r}"
