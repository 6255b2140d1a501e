"""executor: the Binance adapter, the order path and risk (sub-packages named so)."""
