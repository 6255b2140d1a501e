"""trader: a trading daemon for Binance USD-M perpetual futures.

This package is the composition root (CLI, app wiring) and holds the domain kernel every other
package shares: the events that cross the bus, the exception hierarchy and the instrument rules.
Importing it has no side effects.
"""

__version__ = "0.1.0"
