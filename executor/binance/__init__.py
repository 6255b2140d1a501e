"""The Binance adapter: REST gateway on the official SDK, streams, decoding, limits and clock."""
