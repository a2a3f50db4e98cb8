"""JSON helpers and the scenario catalogue."""

from __future__ import annotations

from decimal import Decimal

import pytest
from autotrader_conformance import _json
from autotrader_conformance.catalogue import CATALOGUE, get_spec, mandatory_ids


def test_decimals_are_read_and_written_verbatim() -> None:
    text = '{"price":"1.50","qty":0.00100,"n":3,"ok":true,"x":null,"l":[1.0]}'
    data = _json.loads(text)
    assert data["qty"] == Decimal("0.00100")
    assert _json.dumps(data) == text


def test_floats_are_refused_when_writing() -> None:
    with pytest.raises(TypeError, match="float"):
        _json.dumps({"price": 1.5})


def test_mandatory_set_is_the_agreed_core() -> None:
    assert set(mandatory_ids()) == {
        "TC-CON-01",
        "TC-INS-01",
        "TC-BAL-01",
        "TC-ORD-02",
        "TC-ORD-03",
        "TC-ORD-04",
        "TC-ERR-01",
        "TC-ERR-02",
        "TC-ERR-03",
        "TC-ERR-04",
        "TC-ERR-05",
    }


def test_ids_follow_the_pattern_and_name_their_files() -> None:
    for scenario_id, spec in CATALOGUE.items():
        group, number = scenario_id.removeprefix("TC-").split("-")  # TC-ORD-01, TC-MD-01
        assert scenario_id.startswith("TC-") and 2 <= len(group) <= 3 and group.isupper()
        assert len(number) == 2 and number.isdigit()
        assert spec.file_name == f"{scenario_id}.json"
        assert not (spec.mandatory and spec.requires), "a mandatory scenario cannot be capability-gated"


def test_unknown_id_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="TC-CON-01"):
        get_spec("TC-NOPE-01")
