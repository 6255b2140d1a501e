"""The dashboard's entry script: `streamlit run dashboard/app.py` (`make dashboard` does it for you).

Builds the navigation: Health, Portfolio, Market and Signals & risk always; Alerts, Reconciliation
and Backtests only once their tables exist and hold rows. Everything it shows is read-only.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the project's; the project root is needed
# when the package is not installed (a plain checkout).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboard.context import load_context  # noqa: E402
from dashboard.page import DEFAULT_REFRESH, REFRESH_CHOICES, REFRESH_KEY  # noqa: E402

_OPTIONAL = (
    ("alerts", "views/alerts.py", "Alerts", ":material/notifications:"),
    ("reconciliation_runs", "views/reconciliation.py", "Reconciliation", ":material/sync_alt:"),
    ("backtest_runs", "views/backtests.py", "Backtests", ":material/science:"),
)


def _pages() -> list[st.Page]:
    pages = [
        st.Page("views/health.py", title="Health", icon=":material/monitor_heart:", default=True),
        st.Page("views/portfolio.py", title="Portfolio", icon=":material/account_balance_wallet:"),
        st.Page("views/market.py", title="Market", icon=":material/candlestick_chart:"),
        st.Page("views/signals.py", title="Signals & risk", icon=":material/traffic:", url_path="signals"),
    ]
    source = load_context().source
    if source is not None:
        for table, path, title, icon in _OPTIONAL:
            if source.has_rows(table):
                pages.append(st.Page(path, title=title, icon=icon, url_path=Path(path).stem))
    return pages


def main() -> None:
    """Page set-up, the sidebar's refresh choice, and the page the user picked."""
    st.set_page_config(page_title="trader", page_icon=":material/candlestick_chart:", layout="wide")
    navigation = st.navigation(_pages())
    with st.sidebar:
        st.selectbox(
            "Auto-refresh",
            list(REFRESH_CHOICES),
            index=list(REFRESH_CHOICES).index(DEFAULT_REFRESH),
            key=REFRESH_KEY,
        )
        st.caption("Read-only: the dashboard never writes to the database.")
    navigation.run()


main()
