"""The one exception the simulator raises for a request Binance would refuse.

Protocol-free: it carries Binance's numeric code, its message text and the HTTP status the server
should answer with; the server turns it into the body `{"code": code, "msg": msg}`.
"""

from __future__ import annotations


class SimError(Exception):
    """A request the simulated exchange rejects, with Binance's code and message."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status

    def body(self) -> dict[str, int | str]:
        """The JSON error body exactly as Binance sends it."""
        return {"code": self.code, "msg": self.msg}
