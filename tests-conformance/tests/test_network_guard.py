"""The loopback guard: while a conformance test runs, nothing but loopback and unix sockets connects."""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from autotrader_conformance.network_guard import NetworkRefused, is_loopback, loopback_only

HERE = Path(__file__).parent

FAKEX_SUITE = """
from pathlib import Path
from autotrader_conformance import AdapterConformance
from fakex import FakexAdapter

class TestFakex(AdapterConformance):
    recordings = Path(__file__).parent / "recordings"
    scenario_timeout = 3.0
    def make_adapter(self, scenario):
        return FakexAdapter(ws_url=scenario.ws_url)
"""


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        (None, True),
        ("10.0.0.1", False),
        ("192.0.2.1", False),
        ("api.fakex.test", False),
        ("localhost.example.com", False),
        ("0.0.0.0", False),
    ],
)
def test_what_counts_as_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_loopback_and_unix_sockets_connect_everything_else_is_refused(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    with loopback_only():
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        with socket.create_connection(("localhost", port), timeout=2):  # resolved, then connected
            pass
        with pytest.raises(
            NetworkRefused, match=r"refused a connection to 192\.0\.2\.1:443: tests never touch"
        ):
            socket.create_connection(("192.0.2.1", 443), timeout=2)
        with pytest.raises(NetworkRefused, match=r"api\.fakex\.test:443.*scenario\.base_url"):
            socket.getaddrinfo("api.fakex.test", 443)
        with socket.socket() as raw, pytest.raises(NetworkRefused):
            raw.connect_ex(("10.1.2.3", 80))
        if sys.platform != "win32":
            path = str(tmp_path / "s.sock")
            unix_server = socket.socket(socket.AF_UNIX)
            unix_server.bind(path)
            unix_server.listen()
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(path)
            unix_server.close()
    server.close()
    # Restored afterwards: the guard's functions are gone.
    assert socket.socket.connect.__qualname__ != "loopback_only.<locals>.connect"
    assert socket.getaddrinfo.__module__ == "socket"


def test_a_refusal_in_another_thread_is_reported_as_such() -> None:
    seen: list[tuple[str, bool]] = []
    with loopback_only(lambda message, here: seen.append((message, here))):
        errors: list[BaseException] = []

        def lookup() -> None:
            try:
                socket.getaddrinfo("example.com", 80)
            except NetworkRefused as exc:
                errors.append(exc)

        thread = threading.Thread(target=lookup)
        thread.start()
        thread.join()
    assert len(errors) == 1 and seen == [(str(errors[0]), False)]


def test_an_adapter_reaching_for_its_real_host_fails_the_scenario_with_how_to_fix(
    pytester: pytest.Pytester,
) -> None:
    """Like an adapter on a non-httpx transport: it goes for the broker's host and swallows the error."""
    pytester.syspathinsert(HERE)
    shutil.copytree(HERE / "recordings_fakex", pytester.path / "recordings")
    suite = FAKEX_SUITE.replace(
        "        return FakexAdapter(ws_url=scenario.ws_url)",
        "        return Wandering(ws_url=scenario.ws_url)",
    ).replace(
        "class TestFakex(",
        """import anyio

class Wandering(FakexAdapter):
    async def connect(self):
        try:
            await anyio.connect_tcp("api.fakex.test", 443)
        except OSError:
            pass  # swallowed: the guard must still fail the scenario
        await super().connect()

class TestFakex(""",
    )
    pytester.makepyfile(test_fakex=suite)
    started = time.monotonic()
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "con_01")
    assert time.monotonic() - started < 30
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*autotrader-conformance refused a connection to api.fakex.test:443: tests never touch the internet: "
            "point the adapter at the kit's loopback servers in make_adapter*",
        ]
    )
    # The guard is on only while the kit's tests run: after them, nothing is patched.
    assert socket.getaddrinfo.__module__ == "socket"


def test_an_adapter_on_loopback_is_untouched(pytester: pytest.Pytester) -> None:
    pytester.syspathinsert(HERE)
    shutil.copytree(HERE / "recordings_fakex", pytester.path / "recordings")
    pytester.makepyfile(test_fakex=FAKEX_SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "con_01 or str_01")
    result.assert_outcomes(passed=2)
