"""Edits of a SQLite registry behind llmform's back (``sqlite3`` UPDATEs and DELETEs of any
resource table, runtime columns included), for the properties that plans see them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# (table, SET clause or DELETE): each applied to one row, picked by its position
STORE_EDITS: list[tuple[str, str]] = [
    ("configs", "description = 'edited'"),
    ("configs", "enabled = 1 - enabled"),
    ("configs", "api_base = 'https://edited.example/v1'"),
    ("configs", 'options = \'{"region":"x"}\''),
    ("configs", "protect = 1 - protect"),
    ("configs", "managed = 1 - managed"),
    ("configs", "used_tokens = used_tokens + 5"),
    ("configs", "DELETE"),
    ("config_models", "max_tokens = 77"),
    ("config_models", "types = '[\"embedding\"]'"),
    ("config_models", "custom = 1 - custom"),
    ("config_models", "used_tokens = 9"),
    ("config_models", "DELETE"),
    ("config_secrets", "fingerprint = 'f00'"),
    ("config_secrets", "fingerprint = NULL"),
    ("config_secrets", "ref = 'env:EDITED'"),
    ("config_secrets", "ciphertext = 'x'"),
    ("config_secrets", "DELETE"),
    ("workspaces", 'labels = \'{"edited":"yes"}\''),
    ("workspaces", "description = 'edited'"),
    ("workspaces", "managed = 1 - managed"),
    ("workspaces", "DELETE"),
    ("factories", "api_base = 'https://edited.example/v1'"),
    ("factories", "tags = '[\"edited\"]'"),
    ("factories", "DELETE"),
    ("factory_models", "max_tokens = 5"),
    ("factory_models", "DELETE"),
    ("policies", "level = 'hard'"),
]


def edit_row(db: Path, table: str, change: str, position: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if not count:
            return
        row = (
            f"rowid = (SELECT rowid FROM {table} ORDER BY rowid LIMIT 1 OFFSET {position % count})"
        )
        if change == "DELETE":
            conn.execute(f"DELETE FROM {table} WHERE {row}")
        else:
            conn.execute(f"UPDATE {table} SET {change} WHERE {row}")
    conn.close()
