"""alerts: Slack alerts that people keep switched on.

Components publish `core.alerts.Alert` events on the `alert` channel; `alerts/router.py` stores
each one, folds repeats, and delivers at most one message per second off the trading path. A
process without a bus (the watchdog, `python -m trader alerts test`) calls `send_now`.
"""

from alerts.send_now import send_now

__all__ = ["send_now"]
