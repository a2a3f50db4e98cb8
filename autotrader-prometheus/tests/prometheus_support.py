"""Test helpers: the kit's in-memory broker (re-exported) and a scraper for the exposition text."""

from __future__ import annotations

import httpx
from autotrader_conformance.testing import BTC, FakeBroker
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["BTC", "FakeBroker", "Labels", "ascrape", "parse_samples", "scrape", "value"]

Labels = tuple[tuple[str, str], ...]


# -- scraping ---------------------------------------------------------------------------
def parse_samples(text: str) -> dict[tuple[str, Labels], float]:
    """Exposition text → ``{(sample name, sorted labels): value}``."""
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, Labels], float], name: str, **labels: str) -> float | None:
    """The value of one sample, or ``None`` when it is not exposed.

    A metric labelled by ``broker`` is also labelled by ``account``: ``default`` unless given.
    """
    if "broker" in labels:
        labels.setdefault("account", "default")
    return samples.get((name, tuple(sorted(labels.items()))))


def scrape(url: str) -> str:
    """GET the metrics page over loopback (blocking; for sync tests)."""
    response = httpx.get(url, timeout=5.0, trust_env=False)
    response.raise_for_status()
    return response.text


async def ascrape(url: str) -> str:
    """GET the metrics page over loopback without blocking the event loop."""
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        response = await client.get(url)
    response.raise_for_status()
    return response.text
