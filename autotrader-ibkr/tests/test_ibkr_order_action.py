"""An order action TWS sends that we can't read is a typed error, never taken for a sell."""

from __future__ import annotations

import ibkr_tws_messages as m
import pytest
from autotrader_core.enums import OrderSide
from autotrader_core.errors import BrokerProtocolError
from autotrader_ibkr.parsing import parse_open_order, side_of_action


@pytest.mark.parametrize(
    ("action", "side"), [("BUY", OrderSide.BUY), ("SELL", OrderSide.SELL), ("SSHORT", OrderSide.SELL)]
)
def test_known_actions_map_to_their_side(action: str, side: OrderSide) -> None:
    assert side_of_action(action) is side


@pytest.mark.parametrize("action", ["B0Y", "", "buy", "SLONG"])
def test_an_unknown_action_is_refused_not_booked_as_a_sell(action: str) -> None:
    # It used to be mapped to SELL: a corrupted buy would have been booked backwards.
    with pytest.raises(BrokerProtocolError, match="action"):
        side_of_action(action)
    fields = m.open_order(
        "9", m.ES, action=action, quantity="2", order_type="LMT", lmt_price="5800.25", aux_price="0",
        tif="GTC", account="DU1234567", order_ref="at0lmt01", client_id="1", perm_id="55", status="Submitted",
    )  # fmt: skip
    with pytest.raises(BrokerProtocolError, match="'action'"):
        parse_open_order(fields)
