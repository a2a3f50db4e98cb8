"""Client order id ↔ Coinbase order id map (the only order state the adapter keeps).

Coinbase addresses orders by its own ``order_id`` (the ``client_order_id`` query
parameter is deprecated) and its fills carry no client order id, so the adapter
remembers both ids of every order it placed or saw. Bounded: the oldest entries
are forgotten first; a forgotten order is looked up again over REST.
"""

from __future__ import annotations

from collections import OrderedDict

from autotrader_coinbase.fills import OrderRef

__all__ = ["OrderDirectory"]


class OrderDirectory:
    """Bidirectional, bounded id map.

    Args:
        max_orders: Entries kept (oldest evicted first).
    """

    def __init__(self, max_orders: int = 100_000) -> None:
        self._max = max_orders
        self._by_order_id: OrderedDict[str, OrderRef] = OrderedDict()
        self._by_client_id: dict[str, str] = {}

    def remember(self, order_id: str, ref: OrderRef) -> None:
        """Record that ``order_id`` is our ``ref.client_order_id``."""
        self._by_order_id[order_id] = ref
        self._by_order_id.move_to_end(order_id)
        if ref.client_order_id:
            self._by_client_id[ref.client_order_id] = order_id
        while len(self._by_order_id) > self._max:
            old_id, old_ref = self._by_order_id.popitem(last=False)
            if self._by_client_id.get(old_ref.client_order_id) == old_id:
                del self._by_client_id[old_ref.client_order_id]

    def ref(self, order_id: str) -> OrderRef | None:
        """Our view of a Coinbase order, if known."""
        return self._by_order_id.get(order_id)

    def order_id(self, client_order_id: str) -> str | None:
        """Coinbase's id for one of our client order ids, if known."""
        return self._by_client_id.get(client_order_id)

    def __len__(self) -> int:
        return len(self._by_order_id)
