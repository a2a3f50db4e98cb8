"""The README's example runs as written (against the fake TWS instead of a paper Gateway)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ibkr_fake_tws import fake_tws

pytestmark = pytest.mark.anyio

README = Path(__file__).parent.parent / "README.md"


async def test_readme_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = README.read_text()
    section = text[text.index("## Example") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    source = code.group(1).replace('anyio.run(main, backend="asyncio")', "")
    namespace: dict[str, object] = {}
    exec(compile(source, str(README), "exec"), namespace)
    async with fake_tws("readme_example") as tws:
        monkeypatch.setenv("AUTOTRADER_IBKR_PORT", str(tws.port))
        await namespace["main"]()  # type: ignore[operator]
        assert tws.script_finished
        assert tws.unexpected == []
    printed = capsys.readouterr().out
    assert "OrderAccepted" in printed
    assert "OrderCanceled" in printed
