"""The kill switch and symbol halts: persisted in `control`, seen by a running gate within a second."""

from __future__ import annotations

import asyncio
import sys
import threading

from core.events import SignalAction
from database.engine import Database
from executor.risk.kill_switch import (
    HaltState,
    KillSwitchWatcher,
    halt,
    is_halted,
    read_halts,
    resume,
    write_halt,
)
from executor.risk.rules import SymbolHalt
from tests.risk._fixtures import NOON, OTHER, SYMBOL, position, signal
from tests.risk._gate import start_gate, until


def test_halt_and_resume_globally_and_per_symbol(db: Database) -> None:
    assert not is_halted(db) and not is_halted(db, SYMBOL)
    halt(db, "operator", symbol=SYMBOL)
    assert is_halted(db, SYMBOL) and not is_halted(db, OTHER) and not is_halted(db)
    halt(db, "incident 42")
    assert is_halted(db) and is_halted(db, OTHER)
    assert resume(db, symbol=OTHER) == []
    assert resume(db, symbol=SYMBOL) == [f"halt:{SYMBOL}"]
    assert is_halted(db) and is_halted(db, SYMBOL)  # the global halt still covers every symbol
    with db.session() as session:
        assert dict(read_halts(session).symbols) == {}
    halt(db, "operator", symbol=OTHER)
    assert sorted(resume(db)) == ["halt", f"halt:{OTHER}"]
    assert not is_halted(db) and not is_halted(db, OTHER)


def test_a_loss_halt_ends_with_its_cooldown(db: Database) -> None:
    with db.session() as session:
        write_halt(
            session, "3 consecutive losing trades", symbol=SYMBOL, until_ms=NOON + 1000, strategy="vwap"
        )
    assert is_halted(db, SYMBOL, now_ms=NOON + 999)
    assert not is_halted(db, SYMBOL, now_ms=NOON + 1000)
    with db.session() as session:
        state = read_halts(session)
    assert state.symbols[SYMBOL] == SymbolHalt(SYMBOL, "3 consecutive losing trades", NOON + 1000, "vwap")


async def _next_poll_after(watcher: KillSwitchWatcher) -> None:
    """Wait for a poll that started after this moment (the one in flight may have read before)."""
    seen = watcher.polls
    await until(lambda: watcher.polls >= seen + 2, within=30.0)


async def test_a_halt_from_another_database_object_stops_entries_at_the_next_poll(db: Database) -> None:
    h = await start_gate(db)
    watcher = KillSwitchWatcher(db, h.gate)
    task = asyncio.create_task(watcher.run())
    other = Database(db.url)  # what `python -m trader halt` opens in its own process
    try:
        h.bus.publish("position.update", position("0", "0"))
        h.bus.publish("position.update", position("10", "0"))
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="before"))
        assert (await h.decision()).accepted

        halt(other, "operator says stop")
        await _next_poll_after(watcher)  # how fast that is: bench/kill_switch.py
        assert h.gate.state.global_halt is not None
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="during"))
        rejected = await h.decision()
        assert rejected.reason == "kill_switch" and rejected.details["halt_reason"] == "operator says stop"
        h.bus.publish(f"signal.{SYMBOL}", signal(SignalAction.CLOSE, signal_id="exit"))
        assert (await h.decision()).accepted  # the exit still goes out

        resume(other)
        await _next_poll_after(watcher)
        assert h.gate.state.global_halt is None
        h.bus.publish(f"signal.{OTHER}", signal(signal_id="after", symbol=OTHER))
        assert (await h.decision()).accepted
        assert watcher.errors == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        other.close()
        await h.stop()


async def test_a_halt_written_by_another_process_reaches_the_running_gate(db: Database) -> None:
    h = await start_gate(db)
    watcher = KillSwitchWatcher(db, h.gate)
    task = asyncio.create_task(watcher.run())
    try:
        code = (
            "import sys; from database.engine import Database; from executor.risk.kill_switch import halt; "
            "d = Database(sys.argv[1]); halt(d, 'from a shell', symbol=sys.argv[2]); d.close()"
        )
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, db.url, SYMBOL)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        await _next_poll_after(watcher)
        assert h.gate.state.symbol_halt(SYMBOL) is not None
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="halted"))
        assert (await h.decision()).reason == "symbol_halted"
        h.bus.publish(f"signal.{OTHER}", signal(signal_id="free", symbol=OTHER))
        assert (await h.decision()).accepted
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await h.stop()


async def test_the_kill_switch_survives_a_restart(db: Database) -> None:
    halt(db, "weekend")
    h = await start_gate(db)  # no watcher: the gate reads the halts before the first signal
    try:
        h.bus.publish(f"signal.{SYMBOL}", signal(signal_id="monday?"))
        assert (await h.decision()).reason == "kill_switch"
    finally:
        await h.stop()


async def test_a_stale_read_never_lifts_a_halt_the_gate_just_issued(db: Database) -> None:
    h = await start_gate(db, max_consecutive_losses=1)
    gate_open = threading.Event()
    # Hold the database thread, so the gate's halt stays unwritten while the "poll" below arrives.
    blocker = asyncio.ensure_future(db.run(lambda _s: gate_open.wait(5)))
    try:
        epoch = h.gate.halt_epoch
        h.bus.publish("position.update", position("0", "0"))
        h.bus.publish("position.update", position("10", "0"))
        h.bus.publish("position.update", position("0", "-1"))
        await until(lambda: h.gate.state.symbol_halt(SYMBOL) is not None)
        # A poll that read the table before the halt was written must not erase it ...
        h.gate.apply_halts(HaltState(), epoch)
        assert h.gate.state.symbol_halt(SYMBOL) is not None
        gate_open.set()
        await blocker
        await until(lambda: h.gate.halt_epoch != epoch)
        h.gate.apply_halts(HaltState(), epoch)  # ... nor one that finishes after the write
        assert h.gate.state.symbol_halt(SYMBOL) is not None
        # A poll after the write finds it in the table.
        state = await db.run(read_halts)
        assert SYMBOL in state.symbols
        h.gate.apply_halts(state, h.gate.halt_epoch)
        assert h.gate.state.symbol_halt(SYMBOL) is not None
        # A resume by hand (the table without the halt, read after the write) lifts it.
        resume(db, SYMBOL)
        h.gate.apply_halts(await db.run(read_halts), h.gate.halt_epoch)
        assert h.gate.state.symbol_halt(SYMBOL) is None
    finally:
        gate_open.set()
        await asyncio.gather(blocker, return_exceptions=True)
        await h.stop()
