"""The dead-man switch: notices a daemon that stopped writing its heartbeat, or that stays degraded,
and says so once per incident, and again when it recovers.

It runs as its own process (`python -m trader watchdog`), or once per cron / systemd-timer tick
(`--once`); between ticks it remembers the open incident in `status/watchdog.json`, so a stale
heartbeat is alerted once, not every minute. Alerts go to the alert channel when one is configured
(Slack), and always to the log and the console.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trader.health import Health, Verdict, judge, read_heartbeat

Notify = Callable[[str, str, str], None]  # (severity, kind, text)


@dataclass
class Incident:
    """What the watchdog last said: the problem it alerted and since when it has been true."""

    kind: str | None = None  # stale | degraded | None (all well)
    since_s: float | None = None  # when the current problem was first seen (degraded: for the delay)
    alerted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "since_s": self.since_s, "alerted": self.alerted}


class Watchdog:
    """Turns a series of heartbeat readings into alerts (see the module docstring)."""

    def __init__(
        self,
        heartbeat: Path,
        notify: Notify,
        *,
        max_age_s: float | None = None,
        degraded_for_s: float = 120.0,
        state_file: Path | None = None,
    ) -> None:
        self._heartbeat = heartbeat
        self._notify = notify
        self._max_age_s = max_age_s
        self._degraded_for_s = degraded_for_s
        self._state_file = state_file
        self.incident = self._load()

    def _load(self) -> Incident:
        if self._state_file is None:
            return Incident()
        try:
            doc = json.loads(self._state_file.read_text())
            return Incident(doc.get("kind"), doc.get("since_s"), bool(doc.get("alerted")))
        except (OSError, ValueError):
            return Incident()

    def _save(self) -> None:
        if self._state_file is not None:
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            self._state_file.write_text(json.dumps(self.incident.as_dict()))

    def verdict(self, now_s: float | None = None) -> Verdict:
        """The daemon's health now, with `max_age_s` (when given) as the staleness limit."""
        return judge(read_heartbeat(self._heartbeat), now_s=now_s, stale_after_s=self._max_age_s)

    def check(self, now_s: float | None = None) -> Verdict:
        """Read the heartbeat once; alert on a new problem, or on recovery."""
        now = time.time() if now_s is None else now_s
        verdict = self.verdict(now)
        kind = {Health.HEALTHY: None, Health.DEGRADED: "degraded"}.get(verdict.health, "stale")
        incident = self.incident
        reasons = "; ".join(verdict.reasons)
        instance = (verdict.heartbeat or {}).get("instance_id", "trader")
        if kind is None:
            if incident.alerted:
                self._notify(
                    "INFO", "watchdog_recovered", f"{instance} is healthy again (was {incident.kind})"
                )
            self.incident = Incident()
        elif kind != incident.kind:
            self.incident = Incident(kind, now, alerted=False)
        incident = self.incident
        if kind is not None and not incident.alerted:
            waited = now - (incident.since_s or now)
            if kind == "stale" or waited >= self._degraded_for_s:
                severity = "CRITICAL" if kind == "stale" else "WARNING"
                text = (
                    f"{instance} is not running or has stopped writing its heartbeat: {reasons}"
                    if kind == "stale"
                    else f"{instance} has been degraded for {waited:.0f} s: {reasons}"
                )
                self._notify(severity, f"watchdog_{kind}", text)
                incident.alerted = True
        self._save()
        return verdict
