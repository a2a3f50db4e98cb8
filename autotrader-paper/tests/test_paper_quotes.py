"""Price sources and determinism: same seed, same path, same fills."""

from __future__ import annotations

import itertools
from decimal import Decimal as D
from pathlib import Path

import pytest
from autotrader_core import ConfigurationError
from autotrader_paper.quotes import CsvReplaySource, RandomWalkSource, StaticSource, load_price_csv
from paper_support import order, simulator

TICKS = {"BTCUSDT": D("0.01"), "ETHUSDT": D("0.01")}
STARTS = {"BTCUSDT": D("65000.00"), "ETHUSDT": D("3500.00")}


def walk_path(seed: int, steps: int, symbol: str = "BTCUSDT", **kwargs: D) -> list[D]:
    source = RandomWalkSource(STARTS, TICKS, seed=seed, volatility=kwargs.get("volatility", D("0.0005")))
    path = []
    for _ in range(steps):
        source.step()
        path.append(source.quote(symbol))
    return path


def test_same_seed_gives_the_same_path_and_another_seed_another() -> None:
    assert walk_path(7, 300) == walk_path(7, 300)
    assert walk_path(7, 300) != walk_path(8, 300)


def test_random_walk_prices_are_positive_decimals_on_the_tick_and_actually_move() -> None:
    path = walk_path(7, 500)
    assert all(isinstance(p, D) and p > 0 and p % D("0.01") == 0 for p in path)
    assert len(set(path)) > 100
    steps = [abs(b / a - 1) for a, b in itertools.pairwise(path)]
    assert max(steps) <= D("0.0005") + D("0.0000002")  # bounded by the volatility (plus rounding)


def test_a_symbols_path_does_not_depend_on_the_other_symbols() -> None:
    alone = RandomWalkSource({"BTCUSDT": D("65000.00")}, TICKS, seed=7, volatility=D("0.0005"))
    together = RandomWalkSource(STARTS, TICKS, seed=7, volatility=D("0.0005"))
    for _ in range(50):
        alone.step()
        together.step()
    assert alone.quote("BTCUSDT") == together.quote("BTCUSDT")


def test_zero_volatility_walk_and_static_source_stay_put() -> None:
    assert set(walk_path(7, 20, volatility=D(0))) == {D("65000.00")}
    static = StaticSource(STARTS, TICKS)
    static.step()
    assert static.quote("BTCUSDT") == D("65000.00")


def test_set_price_rounds_to_the_tick_and_the_walk_continues_from_it() -> None:
    source = RandomWalkSource(STARTS, TICKS, seed=7, volatility=D("0.0005"))
    assert source.set_price("BTCUSDT", D("1000.004")) == D("1000.00")
    source.step()
    assert abs(source.quote("BTCUSDT") - D("1000.00")) <= D("0.51")


def test_same_seed_and_orders_give_identical_fills() -> None:
    def run(seed: int) -> list[object]:
        sim = simulator(
            quote_source="random_walk", seed=seed, slippage_bps=D(1), partial_fill_threshold=D("0.05")
        )
        sim.submit(order("buy", "0.12", cid="a"))
        sim.advance(3)
        price = sim.price("BTCUSDT")
        assert price is not None
        sim.submit(order("sell", "0.1", kind="limit", limit=str(price + D("20.00")), cid="b"))
        sim.submit(order("buy", "0.01", kind="stop", stop=str(price + D("40.00")), cid="c"))
        sim.advance(200)
        return [*sim.fills(), *sim.balances(), sim.price("BTCUSDT")]

    first = run(7)
    assert first == run(7)
    assert first != run(11)
    assert len([f for f in first if hasattr(f, "trade_id")]) >= 3


def test_shipped_sample_has_realistic_two_decimal_prices() -> None:
    series = load_price_csv()
    assert set(series) == {"BTCUSDT", "ETHUSDT"}
    assert len(series["BTCUSDT"]) >= 150
    assert all(p == p.quantize(D("0.01")) for p in series["BTCUSDT"])
    assert all(D(50000) < p < D(80000) for p in series["BTCUSDT"])


def test_csv_replay_follows_the_file_and_loops() -> None:
    series = {"BTCUSDT": [D("100.00"), D("101.00"), D("102.50")]}
    source = CsvReplaySource(series, STARTS, TICKS)
    seen = [source.quote("BTCUSDT")]
    for _ in range(4):
        source.step()
        seen.append(source.quote("BTCUSDT"))
    assert seen == [D("100.00"), D("101.00"), D("102.50"), D("100.00"), D("101.00")]
    assert source.quote("ETHUSDT") == D("3500.00")  # not in the file: keeps its start price


def test_csv_source_from_settings_replays_a_user_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("timestamp,symbol,price\nt0,BTCUSDT,60000.00\nt1,BTCUSDT,59000.00\n")
    sim = simulator(quote_source="csv", csv_path=path)
    assert sim.price("BTCUSDT") == D("60000.00")
    sim.submit(order("buy", "0.01", kind="limit", limit="59500.00"))
    (event,) = [e for e in sim.advance() if type(e).__name__ == "OrderFilled"]
    assert sim.price("BTCUSDT") == D("59000.00")
    assert event.fill.price == D("59500.00")  # type: ignore[union-attr]


def test_csv_source_default_is_the_shipped_sample() -> None:
    sim = simulator(quote_source="csv")
    assert sim.price("BTCUSDT") == load_price_csv()["BTCUSDT"][0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("symbol,close\nBTCUSDT,1\n", "header"),
        ("symbol,price\nBTCUSDT,abc\n", ":2:"),
        ("symbol,price\nBTCUSDT,-5\n", ":2:"),
        ("symbol,price\n", "no price rows"),
    ],
)
def test_bad_csv_files_are_configuration_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_price_csv(path)
