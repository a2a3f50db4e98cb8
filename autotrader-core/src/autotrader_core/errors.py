"""The one error tree of autotrader.

Every adapter maps its broker's codes onto these classes in one table, keeping
the broker's own code and message on the exception.  ``retryable`` tells the
resiliency layer whether sending again may help; it never decides whether a
re-send is *safe* (that is the client order id's job).

::

    AutotraderError
    ├── ConfigurationError
    │   └── PluginError
    ├── InvalidOrder
    │   ├── UnsupportedFeature
    │   └── RiskRejected
    ├── BrokerError
    │   ├── AuthenticationError
    │   ├── InsufficientFunds
    │   ├── OrderNotFound
    │   ├── DuplicateClientOrderId
    │   └── RateLimited
    ├── TransientError
    │   ├── BrokerUnavailable
    │   └── RequestTimeout
    ├── BrokerProtocolError
    ├── IllegalTransition
    └── CircuitOpen
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "AutotraderError",
    "BrokerError",
    "BrokerProtocolError",
    "BrokerUnavailable",
    "CircuitOpen",
    "ConfigurationError",
    "DuplicateClientOrderId",
    "IllegalTransition",
    "InsufficientFunds",
    "InvalidOrder",
    "NoMarketDataPermission",
    "OrderNotFound",
    "PluginError",
    "RateLimited",
    "RequestTimeout",
    "RiskRejected",
    "TransientError",
    "UnsupportedFeature",
]

_MAX_PAYLOAD_REPR = 500


class AutotraderError(Exception):
    """Base of every error autotrader raises on purpose.

    Args:
        message: What went wrong and, where possible, what to do about it.
        broker: Adapter name, when the error comes from a broker.
        code: The broker's own error code, kept verbatim.
        broker_message: The broker's own error text, kept verbatim.
    """

    retryable: bool = False
    """Whether sending the same request again may succeed."""

    def __init__(
        self,
        message: str,
        *,
        broker: str | None = None,
        code: str | int | None = None,
        broker_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.broker = broker
        self.code = None if code is None else str(code)
        self.broker_message = broker_message

    def __str__(self) -> str:
        parts = [self.message]
        if self.broker is not None:
            parts.append(f"broker={self.broker}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.broker_message:
            parts.append(f"broker_message={self.broker_message!r}")
        return " | ".join(parts)


class ConfigurationError(AutotraderError):
    """Bad settings or missing credentials; fix the configuration and start again."""


class PluginError(ConfigurationError):
    """A plugin could not be loaded, or two plugins claim the same adapter name."""


class InvalidOrder(AutotraderError):
    """The order is malformed: refused before send, or the broker says its parameters are invalid."""


class UnsupportedFeature(InvalidOrder):
    """The adapter does not declare the capability the order needs (checked before send)."""


class RiskRejected(InvalidOrder):
    """A pre-trade risk check refused the order; nothing was sent.

    Args:
        reason: A stable machine-readable reason code, e.g. ``"MAX_ORDER_NOTIONAL"``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.message} | reason={self.reason}"


class BrokerError(AutotraderError):
    """The broker answered and refused the request."""


class AuthenticationError(BrokerError):
    """Bad key, signature, passphrase or permissions. Never retried."""


class InsufficientFunds(BrokerError):
    """Not enough balance or margin for the order."""


class OrderNotFound(BrokerError):
    """The broker does not know the order (or no longer does)."""


class DuplicateClientOrderId(BrokerError):
    """The broker already has an order with this client order id: the order is *already there*.

    Raised so that a re-send after an unknown outcome is resolved by a query, never
    by a second order.
    """


class NoMarketDataPermission(BrokerError):
    """The venue serves no (live) market data of a symbol to this account: no subscription,
    a subscription not enabled for the API, or the live session in use elsewhere (IBKR's
    354, 10089, 10168, 10186, 10197). Not retried: the symbol's price stays stale."""


class RateLimited(BrokerError):
    """The broker asked us to slow down.

    Args:
        retry_after: Seconds to wait before the next request, when the broker said so.
        banned: True when the broker has banned us for a while (e.g. Binance HTTP 418);
            nothing must be sent until ``retry_after`` has passed.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        banned: bool = False,
        broker: str | None = None,
        code: str | int | None = None,
        broker_message: str | None = None,
    ) -> None:
        super().__init__(message, broker=broker, code=code, broker_message=broker_message)
        self.retry_after = retry_after
        self.banned = banned


class TransientError(AutotraderError):
    """Retryable failure where the request may or may not have reached the broker."""

    retryable = True


class BrokerUnavailable(TransientError):
    """HTTP 5xx, maintenance, connection refused or reset."""


class RequestTimeout(TransientError):
    """No answer in time: the outcome is unknown, so look the order up before re-sending."""


class BrokerProtocolError(AutotraderError):
    """A reply we cannot parse, or one that breaks the broker's documented format.

    Args:
        payload: The offending payload (truncated in the message, kept whole here).
    """

    def __init__(
        self,
        message: str,
        *,
        payload: Any = None,
        broker: str | None = None,
        code: str | int | None = None,
    ) -> None:
        shown = repr(payload)
        if len(shown) > _MAX_PAYLOAD_REPR:
            shown = shown[:_MAX_PAYLOAD_REPR] + "…"
        super().__init__(
            f"{message} (payload: {shown})" if payload is not None else message,
            broker=broker,
            code=code,
        )
        self.payload = payload


class IllegalTransition(AutotraderError):
    """An order event that the order state machine does not allow from the current state."""


class CircuitOpen(AutotraderError):
    """The circuit breaker is open: requests are refused locally until it half-opens.

    Args:
        retry_in: Seconds until the breaker lets a trial request through.
    """

    retryable = True

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in
