"""The fake TWS speaks the real protocol: the real ib_async client connects and trades on it."""

from __future__ import annotations

import ib_async
import pytest
from ibkr_fake_tws import fake_tws

pytestmark = pytest.mark.anyio


async def test_real_ib_async_client_completes_connect_and_startup_sync() -> None:
    async with fake_tws("connect") as tws:
        ib = ib_async.IB()
        await ib.connectAsync("127.0.0.1", tws.port, clientId=1, timeout=3)
        try:
            assert ib.isConnected()
            assert ib.client.serverVersion() == 178
            assert ib.managedAccounts() == ["DU1234567"]
            positions = {p.contract.symbol: p for p in ib.positions()}
            assert positions["AAPL"].position == 100.0
            assert (positions["ES"].position, positions["ES"].contract.multiplier) == (-2.0, "50")
            tags = {(v.tag, v.currency): v.value for v in ib.accountValues()}
            assert tags[("NetLiquidation", "USD")] == "100004.12"
            names = [r.name for r in tws.received]
            # Everything IB.connectAsync waits for was asked and answered; nothing unexpected.
            for request in (
                "startApi",
                "reqPositions",
                "reqOpenOrders",
                "reqCompletedOrders",
                "reqAccountUpdates",
                "reqAccountUpdatesMulti",
                "reqExecutions",
            ):
                assert request in names
            assert tws.unexpected == []
        finally:
            ib.disconnect()


async def test_contract_details_are_decoded_by_ib_async() -> None:
    async with fake_tws("connect") as tws:
        ib = ib_async.IB()
        await ib.connectAsync("127.0.0.1", tws.port, clientId=1, timeout=3)
        try:
            [stock] = await ib.qualifyContractsAsync(ib_async.Stock("AAPL", "SMART", "USD"))
            assert isinstance(stock, ib_async.Contract)
            assert stock.conId == 265598
            [details] = await ib.reqContractDetailsAsync(ib_async.Future("ES", "202512", "CME"))
            assert details.contract is not None
            assert details.contract.multiplier == "50"
            assert details.minTick == 0.25
            assert await ib.reqContractDetailsAsync(ib_async.Stock("NOPE", "SMART", "USD")) == []
        finally:
            ib.disconnect()


async def test_open_order_in_v178_layout_decodes_to_the_expected_trade() -> None:
    async with fake_tws("limit_place_cancel") as tws:
        ib = ib_async.IB()
        await ib.connectAsync("127.0.0.1", tws.port, clientId=1, timeout=3)
        try:
            contract = ib_async.Stock("AAPL", "SMART", "USD")
            order = ib_async.LimitOrder("BUY", 10, 150.25, tif="DAY", orderRef="at0limit01")
            trade = ib.placeOrder(contract, order)
            for _ in range(100):
                if trade.orderStatus.status == "Submitted":
                    break
                await ib_async.util.asyncio.sleep(0.01)  # type: ignore[attr-defined]
            assert trade.orderStatus.status == "Submitted"
            assert trade.order.permId == 1376327563
            assert trade.order.orderRef == "at0limit01"
            assert trade.order.lmtPrice == 150.25
            assert tws.unexpected == []
        finally:
            ib.disconnect()


async def test_handshake_refuses_a_client_whose_version_range_excludes_ours() -> None:
    import asyncio
    import struct

    async with fake_tws("connect") as tws:
        reader, writer = await asyncio.open_connection("127.0.0.1", tws.port)
        payload = b"v100..120"
        writer.write(b"API\0" + struct.pack(">I", len(payload)) + payload)
        await writer.drain()
        assert await reader.read() == b""  # closed without a reply
        writer.close()
