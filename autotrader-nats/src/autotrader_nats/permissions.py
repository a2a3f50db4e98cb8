"""The NATS permissions of a strategy process: its own subjects and nothing of another's.

Every subject a remote strategy uses ends in its name (:mod:`autotrader_nats.wire`), and the
gateway takes the strategy a message speaks for from the subject; so these permissions are what
keeps the strategies of one account apart (docs: deployment-nats, "Security").
``autotrader nats-permissions`` prints them for a nats-server configuration.
"""

from __future__ import annotations

import json
import re

from autotrader_nats.wire import AccountNames

__all__ = ["server_config", "strategy_permissions", "variable_name"]


def strategy_permissions(names: AccountNames, owner: str) -> dict[str, dict[str, list[str]]]:
    """What the strategy ``owner`` needs on the account of ``names``, as a nats-server user's
    ``permissions`` (``{"publish": {"allow": [...]}, "subscribe": {"allow": [...]}}``).

    Its commands and services, its heartbeats, its two consumers (made by name, their filter
    in the subject that makes them) and their acknowledgements, its inbox; quotes, market data
    and the account's balances. Not another strategy's subjects, not the account's command
    subject (``flatten``, ``resume``, another strategy's orders: add ``names.commands`` to grant
    them), not the KV bucket (halt, kill), no stream management.
    """
    events = names.event_stream
    own_events = names.order_events(owner)
    consumers = [names.event_consumer(owner), names.replay_consumer(owner)]
    publish = [
        names.commands_of(owner),
        names.service("snapshot", owner),
        names.service("result", owner),
        names.heartbeats(owner),
        *(f"$JS.API.CONSUMER.CREATE.{events}.{name}.{own_events}" for name in consumers),
        f"$JS.API.CONSUMER.INFO.{events}.{names.event_consumer(owner)}",  # is its durable there?
        f"$JS.API.CONSUMER.DELETE.{events}.{names.replay_consumer(owner)}",  # an earlier replay's
        *(f"$JS.ACK.{events}.{name}.>" for name in consumers),
    ]
    subscribe = [
        f"{names.inbox_prefix(owner)}.>",
        names.quotes,
        names.market_data("*"),
        names.account_events,
    ]
    return {"publish": {"allow": publish}, "subscribe": {"allow": subscribe}}


def variable_name(owner: str) -> str:
    """The nats-server configuration variable :func:`server_config` names ``owner``'s permissions with."""
    return "autotrader_" + re.sub(r"[^A-Za-z0-9]", "_", owner)


def server_config(names: AccountNames, owners: list[str]) -> str:
    """Each strategy's permissions as a nats-server configuration variable, to include in the
    server's configuration and give to that strategy's user (``permissions: $autotrader_alpha``)."""
    lines = [
        f"# NATS permissions of autotrader strategies on {names.account} (autotrader nats-permissions).",
        "# Give each strategy's user its own, e.g.",
        f'#   {{ user: {owners[0]}, password: "...", permissions: ${variable_name(owners[0])} }}',
    ]
    for owner in owners:
        lines.append(f"{variable_name(owner)} = {json.dumps(strategy_permissions(names, owner), indent=2)}")
    return "\n".join(lines) + "\n"
