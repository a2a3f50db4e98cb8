"""Client order ids fit every broker; capabilities read as features."""

from __future__ import annotations

import re

import pytest
from autotrader_core.capabilities import Capabilities, Feature
from autotrader_core.enums import AssetClass, OrderType, TimeInForce
from autotrader_core.ids import ClientOrderIdGenerator


def test_client_order_ids_are_unique_and_fit_every_broker() -> None:
    generators = [ClientOrderIdGenerator(), ClientOrderIdGenerator()]
    ids = [g.next_id() for g in generators for _ in range(5000)]
    assert len(set(ids)) == len(ids)  # unique across generators (restarts) too
    okx = re.compile(r"^[A-Za-z0-9]{1,32}$")
    binance = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")
    assert all(okx.match(i) and binance.match(i) and len(i) <= ClientOrderIdGenerator.MAX_LENGTH for i in ids)


@pytest.mark.parametrize("prefix", ["", "a-b", "toolong", "ü"])
def test_bad_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        ClientOrderIdGenerator(prefix)


def test_capabilities_expose_features() -> None:
    caps = Capabilities(
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
        time_in_force=frozenset({TimeInForce.GTC, TimeInForce.IOC}),
        asset_classes=frozenset({AssetClass.FX}),
        emulated_modify=True,
    )
    assert caps.supports(Feature.LIMIT_ORDERS) and caps.supports(Feature.IOC)
    assert caps.supports(Feature.MODIFY) and not caps.supports(Feature.NATIVE_MODIFY)
    assert not caps.supports(Feature.STOP_ORDERS) and not caps.supports(Feature.FOK)
    assert "types=limit,market" in caps.summary()
