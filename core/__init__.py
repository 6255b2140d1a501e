"""core: what every other package shares, importing nothing of the project.

Events that cross the bus, the bus itself and its channel names, the exception hierarchy, Binance's
error codes, instrument rules, order states and their transition table, decimal helpers.
"""

__version__ = "0.1.0"
