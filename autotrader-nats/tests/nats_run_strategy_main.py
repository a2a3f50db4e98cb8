"""A strategy script written like the README, run through the gateway until Ctrl-C.

``python nats_run_strategy_main.py NATS_URL OWNER``: rests one buy far below the market,
prints ``placed <id>``, then waits in ``engine.run()``; prints ``returned`` when run() returns.
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
        owner=sys.argv[2],
        nats_settings=NatsSettings(servers=[sys.argv[1]]),
    ) as engine:
        order = await engine.submit_order(
            "BTCUSDT", "buy", Decimal("0.01"), order_type="limit", limit_price=Decimal("50000")
        )
        print(f"placed {order.client_order_id}", flush=True)
        await engine.run()
        print("returned", flush=True)


if __name__ == "__main__":
    anyio.run(main)
