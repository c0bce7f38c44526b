"""The tables of a state store for external targets (``sqlite_store``): the registry's state
tables with a ``target`` column (so that ``sqlite_state`` and ``sqlite_lock`` read and write them
with a ``scope.Scope``), and ``applied``, the resources last applied as llmform wrote them."""

from __future__ import annotations

import hashlib
import hmac

from .new_store_key import new_store_key

SCHEMA_VERSION = "1"
SCHEMA = """
    CREATE TABLE meta (
        target TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (target, key)
    );
    CREATE TABLE locks (
        target TEXT NOT NULL,
        name TEXT NOT NULL,
        lock_id TEXT NOT NULL,
        holder TEXT NOT NULL,
        pid INTEGER NOT NULL,
        operation TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (target, name)
    );
    CREATE TABLE audit_events (
        target TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time TEXT NOT NULL,
        run_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        git_commit TEXT,
        address TEXT NOT NULL,
        action TEXT NOT NULL,
        fields TEXT NOT NULL,
        result TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (target, seq)
    );
    CREATE TABLE applied (
        target TEXT NOT NULL,
        address TEXT NOT NULL,
        resource TEXT NOT NULL,
        PRIMARY KEY (target, address)
    );
    INSERT INTO meta (target, key, value) VALUES ('', 'state_schema_version', '1');
"""


def new_key(path: str, target_url: str) -> bytes:
    """A target's key in a state not there yet: ``new_store_key`` of the file, one per target."""
    return hmac.new(new_store_key(path), target_url.encode(), hashlib.sha256).digest()
