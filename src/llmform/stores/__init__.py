"""Target stores, chosen by URL scheme."""

from __future__ import annotations

from collections.abc import Callable

from .base import Store, StoreError

DEFAULT_STORE_URL = "sqlite:///.llmform/llmform.db"


def _sqlite(url: str) -> Store:
    from .sqlite import SqliteStore

    return SqliteStore(url)


STORES: dict[str, Callable[[str], Store]] = {
    "sqlite": _sqlite,
}


def open_store(url: str) -> Store:
    """Open (creating if needed) the store at ``url``."""
    scheme = url.partition(":")[0]
    factory = STORES.get(scheme)
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted(STORES))
        raise StoreError(f"unsupported store URL scheme {scheme!r} in {url!r}; use one of {known}")
    return factory(url)


__all__ = ["DEFAULT_STORE_URL", "STORES", "Store", "StoreError", "open_store"]
