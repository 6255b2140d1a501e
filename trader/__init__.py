"""trader: a trading daemon for Binance USD-M perpetual futures.

This package is the composition root: the CLI, the daemon's wiring, the heartbeat, the venues'
start-up and `doctor`. Nothing else in the project imports it. Importing it has no side effects.
"""

from core import __version__

__all__ = ["__version__"]
