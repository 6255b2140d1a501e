"""Where a page's data comes from: the read-only engine, the schema, and queries cached by data version.

`cached(*tables)` turns a plain query `fn(connection, *args)` into `fn(source, *args)` whose result
is kept (st.cache_data) under the fingerprints of the tables it reads (dashboard/versions.py): an
auto-refresh costs one index look-up per table and re-runs the query only after the daemon wrote to
one of them. A time limit on each entry bounds the memory and any fingerprint blind spot.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

import streamlit as st
from sqlalchemy.engine import Connection, Engine

from dashboard.readonly import read_only_engine
from dashboard.schema import Schema, has_rows, read_schema
from dashboard.versions import Version, table_versions

P = ParamSpec("P")
R = TypeVar("R")

CACHE_SECONDS = 600
QUERY_RUNS: Counter[str] = Counter()  # executions per query since the process started (tests read it)


@st.cache_resource(show_spinner=False)
def engine_for(url: str) -> Engine:
    """One read-only engine per database URL for the whole server process."""
    return read_only_engine(url)


@st.cache_data(ttl=5, show_spinner=False)
def _schema_of(url: str) -> Schema:
    with engine_for(url).connect() as connection:
        return read_schema(connection)


class Source:
    """One page render's view of the database: versions are read once per render, then shared."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)
        self.schema = _schema_of(url)
        self._versions: dict[str, Version] = {}
        self.queries_run = 0
        self.queries_cached = 0
        self.started = time.perf_counter()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read-only connection for uncached look-ups (a few index seeks)."""
        with self.engine.connect() as connection:
            yield connection

    def versions(self, tables: tuple[str, ...]) -> tuple[Version, ...]:
        """The fingerprint of each table, looked up at most once per render."""
        missing = [t for t in tables if t not in self._versions]
        if missing:
            with self.connect() as connection:
                self._versions.update(table_versions(connection, self.schema, missing))
        return tuple(self._versions[t] for t in tables)

    def has_rows(self, table: str) -> bool:
        """True when `table` exists and is not empty."""
        with self.connect() as connection:
            return has_rows(connection, self.schema, table)


def cached(
    *tables: str, ttl: float = CACHE_SECONDS
) -> Callable[[Callable[Concatenate[Connection, P], R]], Callable[Concatenate[Source, P], R]]:
    """Cache a query under the versions of `tables`; the wrapped function takes a Source."""

    def wrap(fn: Callable[Concatenate[Connection, P], R]) -> Callable[Concatenate[Source, P], R]:
        name = f"{fn.__module__}.{fn.__qualname__}"

        def run(query: str, url: str, versions: tuple[Version, ...], *args: Any, **kwargs: Any) -> Any:
            QUERY_RUNS[query] += 1
            with engine_for(url).connect() as connection:
                return fn(connection, *args, **kwargs)

        # st.cache_data tells cached functions apart by module and qualified name.
        run.__module__, run.__qualname__ = fn.__module__, f"{fn.__qualname__}__cached"
        stored = st.cache_data(ttl=ttl, max_entries=32, show_spinner=False)(run)

        def call(source: Source, /, *args: P.args, **kwargs: P.kwargs) -> R:
            before = QUERY_RUNS[name]
            result: R = stored(name, source.url, source.versions(tables), *args, **kwargs)
            if QUERY_RUNS[name] == before:
                source.queries_cached += 1
            else:
                source.queries_run += 1
            return result

        call.__doc__ = fn.__doc__
        return call

    return wrap


__all__ = ["CACHE_SECONDS", "QUERY_RUNS", "Source", "cached", "engine_for"]
