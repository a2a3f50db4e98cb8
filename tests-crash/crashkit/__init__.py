"""Crash-test kit: a paper broker that outlives the engine, and an engine that can be killed.

The broker (:mod:`crashkit.broker`) runs in the test's own process behind a loopback
TCP server; the engine (:mod:`crashkit.child`) runs in a child process that talks to it
through :class:`crashkit.remote.RemotePaperAdapter` and journals to SQLite. The child is
killed with SIGKILL at chosen or random points and restarted on the same journal; then
:mod:`crashkit.harness` checks the broker's books against the engine's. The broker can
also hold a request in flight while the engine is killed (:mod:`crashkit.holds`), and
engines are forked from a zygote that imported them once (:mod:`crashkit.zygote`).
"""
