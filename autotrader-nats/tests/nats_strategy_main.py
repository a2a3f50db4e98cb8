"""A strategy process for the fault tests: places one resting limit order, prints its id, waits to be killed.

``python nats_strategy_main.py NATS_URL [--cancel-on-disconnect]``.
"""

from __future__ import annotations

import sys
from decimal import Decimal

import anyio
from autotrader_core.strategy import Strategy
from autotrader_nats import NatsSettings, connect_gateway


class Rester(Strategy):
    """Rests one buy far below the market."""

    name = "rester"


async def main() -> None:
    async with connect_gateway(
        "paper",
        "paper",
        strategy=Rester(),
        nats_settings=NatsSettings(servers=[sys.argv[1]]),
        cancel_on_disconnect="--cancel-on-disconnect" in sys.argv,
    ) as engine:
        order = await engine.submit_order(
            "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("50000")
        )
        print(f"placed {order.client_order_id} {order.status.value}", flush=True)
        await anyio.sleep(60)


if __name__ == "__main__":
    anyio.run(main)
