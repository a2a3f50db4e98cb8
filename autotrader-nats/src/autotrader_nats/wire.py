"""What goes over NATS: subject and stream names, commands, replies, events, typed errors.

Everything is JSON; money and quantities are decimal strings (the journal's codec is
reused for orders, events and fills, so the gateway and a strategy see exactly what
the journal keeps). Names of one account (``broker/environment/account``)::

    autotrader.<b>.<e>.<a>.cmd.<owner>            commands of one strategy (stream AT_CMD_<b>_<e>_<a>)
    autotrader.<b>.<e>.<a>.cmd                    commands for the whole account (same stream)
    autotrader.<b>.<e>.<a>.evt.order.<owner>      order events and fills of one strategy
    autotrader.<b>.<e>.<a>.evt.account            positions and balances
                                                  (both in stream AT_EVT_<b>_<e>_<a>)
    autotrader.<b>.<e>.<a>.svc.<name>.<owner>     request/reply of one strategy: snapshot, result
    autotrader.<b>.<e>.<a>.svc.<name>             the same for the whole account
    autotrader.<b>.<e>.<a>.hb.<owner>             heartbeats of a strategy (cancel-on-disconnect)
    _INBOX.<owner>.>                              a remote strategy's replies and deliveries
    autotrader.<b>.<e>.<a>.quotes                 last prices (core NATS, not stored)
    autotrader.<b>.<e>.<a>.md.<symbol>            quotes and stale markers of one symbol
                                                  from the engine's market feed (core NATS)
    KV bucket AT_STATE_<b>_<e>_<a>                trading_state, kill

A subject that ends in a strategy's name speaks for that strategy only: the gateway takes
its owner from the subject, so a NATS permission on the subject decides who may use it
(docs: deployment-nats, "Security"). The account-wide subjects are for the operator and
for strategies granted more than their own orders.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from autotrader_core import errors as core_errors
from autotrader_core.control import AccountId
from autotrader_core.decimals import loads_exact
from autotrader_core.errors import AutotraderError, CircuitOpen, RateLimited, RiskRejected
from autotrader_core.journal import JournalError
from autotrader_core.journal.codec import (
    decode_instrument,
    decode_position,
    encode_instrument,
    encode_position,
)
from autotrader_core.market_data import Quote, Stale
from autotrader_core.models import Balance

__all__ = [
    "ACCOUNT_WIDE_KINDS",
    "COMMAND_KINDS",
    "REPLY_HEADER",
    "AccountNames",
    "decode_balance",
    "decode_error",
    "decode_instrument",
    "decode_market_data",
    "decode_position",
    "dumps",
    "encode_balance",
    "encode_error",
    "encode_instrument",
    "encode_position",
    "encode_quote",
    "encode_stale",
    "event_bodies",
    "join_events",
    "loads",
    "loads_from_gateway",
    "needs_account_subject",
]

COMMAND_KINDS = ("submit", "cancel", "modify", "flatten", "halt", "reducing", "resume")
"""What a command may ask for."""
ACCOUNT_WIDE_KINDS = frozenset({"flatten", "resume"})
"""Commands taken on the account's subject only: they trade or free every strategy's orders.
A strategy's own subject may still halt the account or set it reducing (a stop is never refused)."""


def needs_account_subject(kind: str, args: Any) -> bool:
    """Whether a command asks for more than its strategy's own orders: a kind of
    :data:`ACCOUNT_WIDE_KINDS`, or another strategy's order (``any_owner``). Such a command is
    taken on the account's subject only (the strategy sends it there, the gateway refuses it
    on the strategy's own)."""
    return kind in ACCOUNT_WIDE_KINDS or (isinstance(args, dict) and bool(args.get("any_owner")))


REPLY_HEADER = "At-Reply-To"
"""Header naming the subject the outcome of a command is sent to."""
ACTOR_HEADER = "At-Actor"
"""Header naming who sent a command (audited by the engine's control seam)."""


def _token(part: str) -> str:
    # Subject tokens and stream names: no dots, wildcards, spaces or path separators.
    return re.sub(r"[^A-Za-z0-9_-]", "_", part) or "_"


def _token_or_any(part: str) -> str:
    # A name's token, or the wildcard ``*`` itself (every strategy's / symbol's subject).
    return "*" if part == "*" else _token(part)


@dataclass(frozen=True, slots=True)
class AccountNames:
    """Subjects, stream names and the KV bucket of one account."""

    account: AccountId

    @property
    def _parts(self) -> tuple[str, str, str]:
        a = self.account
        return _token(a.broker), _token(a.environment), _token(a.account)

    @property
    def prefix(self) -> str:
        """``autotrader.<broker>.<environment>.<account>``."""
        return "autotrader." + ".".join(self._parts)

    @property
    def commands(self) -> str:
        """Subject of commands for the whole account (who publishes here may name any owner)."""
        return f"{self.prefix}.cmd"

    def commands_of(self, owner: str) -> str:
        """Subject of one strategy's commands: the gateway refuses one naming another owner
        (``*``: of every strategy)."""
        return f"{self.prefix}.cmd.{_token_or_any(owner)}"

    def owner_in(self, subject: str, family: str) -> str | None:
        """The strategy a ``<prefix>.<family>.<owner>`` subject speaks for (``None``: account-wide).

        ``family`` is ``cmd``, ``svc.snapshot``, ``svc.result`` or ``hb``.
        """
        head = f"{self.prefix}.{family}."
        return subject[len(head) :] if subject.startswith(head) else None

    def may_speak_for(self, subject_owner: str | None, owner: str) -> bool:
        """Whether a message on a subject of ``subject_owner`` may act as ``owner``."""
        return subject_owner is None or owner == subject_owner or _token(owner) == subject_owner

    def inbox_prefix(self, owner: str) -> str:
        """Where a remote strategy takes replies and deliveries (``_INBOX.<owner>``): one
        permission, ``_INBOX.<owner>.>``, lets it read them and nobody else's."""
        return f"_INBOX.{_token(owner)}"

    def event_consumer(self, owner: str) -> str:
        """Name of a strategy's durable consumer of its order events."""
        return f"strategy-{_token(owner)}"

    def replay_consumer(self, owner: str) -> str:
        """Name of the consumer a strategy replays its order events with (``replay_from``)."""
        return f"replay-{_token(owner)}"

    @property
    def command_stream(self) -> str:
        """JetStream stream holding the commands."""
        return "AT_CMD_" + "_".join(self._parts)

    @property
    def event_stream(self) -> str:
        """JetStream stream holding the events."""
        return "AT_EVT_" + "_".join(self._parts)

    @property
    def events(self) -> str:
        """Every event subject of the account (a wildcard)."""
        return f"{self.prefix}.evt.>"

    def order_events(self, owner: str = "*") -> str:
        """Order events and fills of one strategy (``*``: of every strategy)."""
        return f"{self.prefix}.evt.order.{_token_or_any(owner)}"

    @property
    def account_events(self) -> str:
        """Positions and balances."""
        return f"{self.prefix}.evt.account"

    def service(self, name: str, owner: str | None = None) -> str:
        """Request/reply subject of one gateway service, for one strategy (``owner``) or the
        whole account (``None``); ``owner`` ``*`` is every strategy's (a wildcard)."""
        if owner is None:
            return f"{self.prefix}.svc.{name}"
        return f"{self.prefix}.svc.{name}.{_token_or_any(owner)}"

    def heartbeats(self, owner: str = "*") -> str:
        """Liveness of strategies that asked for cancel-on-disconnect (``*``: of every strategy)."""
        return f"{self.prefix}.hb.{_token_or_any(owner)}"

    @property
    def quotes(self) -> str:
        """Last prices, published by the gateway (not stored)."""
        return f"{self.prefix}.quotes"

    def market_data(self, symbol: str) -> str:
        """Quotes and stale markers of ``symbol`` from the gateway engine's market feed (not stored;
        ``*``: of every symbol)."""
        return f"{self.prefix}.md.{_token_or_any(symbol)}"

    @property
    def state_bucket(self) -> str:
        """The KV bucket with ``trading_state`` and ``kill``."""
        return "AT_STATE_" + "_".join(self._parts)


def join_events(account: AccountId, payloads: list[bytes]) -> bytes:
    """Several encoded event bodies as one message: ``{"account", "type": "events", "events": [...]}``.

    The gateway sends the events of one strategy that are ready together this way (a
    market order's accept and fill): one stored message, one acknowledgement, one delivery.
    """
    head = dumps({"account": str(account), "type": "events"})[:-1]
    return head + b',"events":[' + b",".join(payloads) + b"]}"


def event_bodies(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The event bodies of one event-stream message, in order (one, or those of :func:`join_events`)."""
    if body.get("type") == "events":
        events = body.get("events")
        if not isinstance(events, list):
            raise ValueError("an events message without a list of events")
        return [e for e in events if isinstance(e, dict)]
    return [body]


def dumps(body: Any) -> bytes:
    """Compact JSON bytes (UTF-8); Decimals as strings (never floats).

    orjson, not the standard library: every command, reply and event is encoded once, and
    orjson does it about ten times faster (measured in the README's "Why these libraries").
    """
    return orjson.dumps(body, default=_default)


def _default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def loads(data: bytes) -> dict[str, Any]:
    """Parse a JSON object (numbers with a fraction or exponent as Decimal, never float).

    :func:`autotrader_core.decimals.loads_exact`: orjson first, the standard library with
    ``Decimal`` numbers only for a body in which orjson found a float (a client that wrote
    an amount as a JSON number).
    """
    body = loads_exact(data)
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def loads_from_gateway(data: bytes) -> dict[str, Any]:
    """Parse a reply or an event message the gateway wrote, with orjson (four times faster).

    Every amount in them is a decimal string (the journal's codec, which refuses anything
    else), so no JSON number there is money; a float that does appear (an error's
    ``retry_after``) stays a float.
    """
    body = orjson.loads(data)
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


# -- typed errors ---------------------------------------------------------------------
def encode_error(exc: BaseException) -> dict[str, Any]:
    """The error as ``{"type", "message", "code", ...}`` (class name in the core's tree)."""
    message = getattr(exc, "message", None)
    body: dict[str, Any] = {
        "type": type(exc).__name__,
        "message": message if isinstance(message, str) else str(exc),
        "code": None if getattr(exc, "code", None) is None else str(exc.code),  # type: ignore[attr-defined]
    }
    if isinstance(exc, RiskRejected):
        body["reason"] = exc.reason
    if isinstance(exc, RateLimited):
        body["retry_after"] = exc.retry_after
    if isinstance(exc, CircuitOpen):
        body["retry_in"] = exc.retry_in
    return body


def decode_error(body: dict[str, Any]) -> AutotraderError:
    """Rebuild the error of :func:`encode_error` as the same class of the core's error tree."""
    name, message, code = str(body.get("type")), str(body.get("message", "")), body.get("code")
    cls = JournalError if name == "JournalError" else getattr(core_errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, AutotraderError)):
        return AutotraderError(f"{name}: {message}", code=code)
    if cls is RiskRejected:
        return RiskRejected(message, reason=str(body.get("reason")))
    if cls is CircuitOpen:
        return CircuitOpen(message, retry_in=float(body.get("retry_in") or 0.0))
    if cls is RateLimited:
        retry_after = body.get("retry_after")
        return RateLimited(
            message, retry_after=None if retry_after is None else float(retry_after), code=code
        )
    try:
        return cls(message, code=code)
    except TypeError:
        return cls(message)


# -- account records ------------------------------------------------------------------
# Positions travel as the journal writes them (encode_position / decode_position, re-exported).
def encode_balance(balance: Balance) -> dict[str, Any]:
    """A balance as decimal strings."""
    return {"asset": balance.asset, "total": str(balance.total), "available": str(balance.available)}


def decode_balance(body: dict[str, Any]) -> Balance:
    """Inverse of :func:`encode_balance`."""
    return Balance(str(body["asset"]), Decimal(body["total"]), Decimal(body["available"]))


# -- market data ------------------------------------------------------------------------
def encode_quote(quote: Quote, now: float | None = None) -> dict[str, Any]:
    """A quote as decimal strings; its age (seconds at ``now``, ``time.monotonic()``) replaces
    ``received_at``, since monotonic clocks of two machines don't compare."""
    now = time.monotonic() if now is None else now
    return {
        "type": "quote",
        "symbol": quote.symbol,
        "bid": str(quote.bid),
        "bid_size": str(quote.bid_size),
        "ask": str(quote.ask),
        "ask_size": str(quote.ask_size),
        "broker_time": None if quote.broker_time is None else quote.broker_time.isoformat(),
        "age": max(0.0, now - quote.received_at),
    }


def encode_stale(stale: Stale) -> dict[str, Any]:
    """A stale marker: prices of ``symbol`` can't be trusted since ``reason``."""
    return {"type": "stale", "symbol": stale.symbol, "reason": stale.reason}


def decode_market_data(body: dict[str, Any], now: float | None = None) -> Quote | Stale:
    """Inverse of :func:`encode_quote` / :func:`encode_stale`; a quote's ``received_at`` is ``now - age``
    on this machine's monotonic clock, so ``price_age`` and staleness read as at the gateway."""
    if body.get("type") == "stale":
        symbol = body.get("symbol")
        return Stale(None if symbol is None else str(symbol), str(body.get("reason", "")))
    if body.get("type") != "quote":
        raise ValueError(f"unknown market data type {body.get('type')!r}")
    now = time.monotonic() if now is None else now
    broker_time = body.get("broker_time")
    return Quote(
        symbol=str(body["symbol"]),
        bid=Decimal(body["bid"]),
        bid_size=Decimal(body["bid_size"]),
        ask=Decimal(body["ask"]),
        ask_size=Decimal(body["ask_size"]),
        broker_time=None if broker_time is None else datetime.fromisoformat(broker_time),
        received_at=now - float(body.get("age") or 0.0),
    )
