"""Every transcript message TWS would send, decoded by IBKR's own Python client (``ibapi``).

The fake TWS replays transcripts composed from layouts read off ib_async's decoder; this
check holds them against the reference decoder instead: ``ibapi.decoder.Decoder`` (from
``ibapi-stable`` 10.50.2, a PyPI re-upload of IBKR's TWS API client, pinned in the
``[test]`` extra) at the transcript's server version. A message fails when the decoder
runs out of fields (missing), leaves fields unread (extra), meets text where it reads a
number (a shifted field), makes no callback, or knows no such message. What it cannot see:
two fields of the same type swapped, since the decoder reads by position and type only.

Decoded message by message, as ``ibapi.client.EClient.run`` does at server versions below
protobuf (201): the message id is split off, the rest goes to the decoder's handler.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_tws import TRANSCRIPTS
from ibapi.decoder import Decoder
from ibapi.utils import BadMessage
from ibapi.wrapper import EWrapper

FILES = sorted(TRANSCRIPTS.rglob("*.json"))
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


class _Calls(EWrapper):  # type: ignore[misc]
    """Records which callbacks the decoder made (their arguments are not needed)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_") or name == "calls" or not callable(getattr(EWrapper, name, None)):
            return super().__getattribute__(name)
        calls: list[str] = super().__getattribute__("calls")
        return lambda *args, **kwargs: calls.append(name)


def server_messages(transcript: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """Every server -> client message of a transcript, with where it sits."""
    for i, message in enumerate(transcript.get("on_connect", [])):
        yield f"on_connect[{i}]", message
    for number, special in transcript.get("connections", {}).items():
        for i, message in enumerate(special.get("on_connect", [])):
            yield f"connections[{number}].on_connect[{i}]", message
    for request, answers in transcript.get("answers", {}).items():
        for a, answer in enumerate(answers):
            for i, message in enumerate(answer.get("reply", [])):
                yield f"answers.{request}[{a}].reply[{i}]", message
    for s, step in enumerate(transcript.get("script", [])):
        for key in ("reply", "push"):
            for i, message in enumerate(step.get(key, [])):
                yield f"script[{s}].{key}[{i}]", message


def decode(decoder: Decoder, fields: list[str]) -> str | None:
    """Run one message through ibapi's decoder; the problem found, or ``None``."""
    concrete = [_PLACEHOLDER.sub("1", field) for field in fields]
    msg_id, rest = int(concrete[0]), tuple(field.encode() for field in concrete[1:])
    handle = decoder.msgId2handleInfo.get(msg_id)
    if handle is None:
        return f"message id {msg_id} unknown to ibapi"
    calls: list[str] = decoder.wrapper.calls
    calls.clear()
    if handle.wrapperMeth is not None:  # decoded by the callback's signature: counts must match
        expected = len(handle.wrapperParams) - 1  # without self; the version field replaces msgId
        if len(rest) - 1 != expected:
            return f"message {msg_id}: {len(rest) - 1} fields after the version, ibapi expects {expected}"
        try:
            decoder.interpretWithSignature(rest, handle)
        except (ValueError, TypeError) as exc:
            return f"message {msg_id}: a field has the wrong type for ibapi ({exc})"
    else:
        remaining = iter(rest)
        try:
            handle.processMeth(decoder, remaining)
        except BadMessage as exc:
            return f"message {msg_id}: missing fields ({exc})"
        except (ValueError, TypeError) as exc:  # a field shifted into a number's place
            return f"message {msg_id}: a field has the wrong type for ibapi ({exc})"
        extra = list(remaining)
        if extra:
            return f"message {msg_id}: {len(extra)} extra field(s) {extra[:5]!r}"
    if not calls:
        return f"message {msg_id}: ibapi decoded it but made no callback"
    return None


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(TRANSCRIPTS)) for p in FILES])
def test_every_message_decodes_field_exact_with_ibapi(path: Path) -> None:
    transcript = json.loads(path.read_text())
    decoder = Decoder(_Calls(), int(transcript["server_version"]))
    problems = [
        f"{where}: {problem}"
        for where, message in server_messages(transcript)
        if (problem := decode(decoder, message)) is not None
    ]
    assert problems == []


def test_the_check_catches_a_missing_and_an_extra_field() -> None:
    decoder = Decoder(_Calls(), 178)
    status = ["3", "7", "Submitted", "0", "10", "0", "1", "0", "0", "1", "", "1.7976931348623157E308"]
    assert decode(decoder, status) is None
    assert "missing" in (decode(decoder, status[:-1]) or "")
    assert "extra" in (decode(decoder, [*status, "x"]) or "")
    assert "expects" in (decode(decoder, ["9", "1"]) or "")  # nextValidId without its id
    shifted = [status[0], status[1], *status[3:], "x"]  # status text dropped: filled is now "0"...
    assert decode(decoder, shifted) is not None
