"""The state half of the PostgreSQL registry: llmform's own record (``meta``: lineage, serial,
fingerprint key; the apply lock; ``audit_events``), never the resource tables.

Its SQL goes through the ``registry_sql.Cursor`` shape with ``?`` placeholders, the subset it
shares with SQLite, so that a standalone state store for an external target (issue 12) can
stand on it as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import LlmformError, StoreError
from ...state.audit import GENESIS, AuditEvent, seal
from ...state.audit_keys import ChainKey
from ..base import StalePlanError
from . import registry_sql as sql
from .postgres_migrate import PG_RESTORE
from .sqlite_files import damaged
from .sqlite_migrate import FINGERPRINT_KEY_BYTES


class PostgresState:
    """llmform's record in the registry's database, read and written inside the
    transactions the store begins."""

    def __init__(self, display_url: str) -> None:
        self.display_url = display_url

    def meta(self, cur: sql.Cursor, key: str, *, for_update: bool = False) -> str:
        cur.execute(
            "SELECT value FROM meta WHERE key = ?" + (" FOR UPDATE" if for_update else ""), (key,)
        )
        row = cur.fetchone()
        if row is None or not isinstance(row[0], str) or not row[0]:
            problem = "it is missing" if row is None else f"its value is {row[0]!r}"
            raise damaged(self.display_url, "meta", repr(key), problem, PG_RESTORE)
        return str(row[0])

    def lineage_serial(self, cur: sql.Cursor, *, for_update: bool = False) -> tuple[str, int]:
        """``for_update``: the serial's row is locked until the transaction ends, so that no
        other writer can move it under an apply."""
        lineage = self.meta(cur, "lineage")
        text = self.meta(cur, "serial", for_update=for_update)
        if not (text.isascii() and text.isdigit()):
            raise damaged(
                self.display_url, "meta", "'serial'", f"{text!r} is not a whole number", PG_RESTORE
            )
        return lineage, int(text)

    def fingerprint_key(self, cur: sql.Cursor) -> bytes:
        text = self.meta(cur, "fingerprint_key")
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < FINGERPRINT_KEY_BYTES // 2:
            raise damaged(
                self.display_url,
                "meta",
                "'fingerprint_key'",
                "the value is not a key (hexadecimal, 32 bytes)",
                "restore the database from a backup (a new key would make every secret show "
                "as changed once)",
            )
        return key

    def check_expected(self, cur: sql.Cursor, expected: tuple[str, int]) -> tuple[str, int]:
        """The (lineage, serial) an apply was planned against, still in force: locked for the
        rest of the transaction; else StalePlanError."""
        lineage, serial = self.lineage_serial(cur, for_update=True)
        if (lineage, serial) != expected:
            raise StalePlanError(
                f"the store changed since the plan was made (serial {expected[1]} -> "
                f"{serial}); run llmform plan again"
                if lineage == expected[0]
                else "the plan was made for a different store (lineage differs)"
            )
        return lineage, serial

    def record_apply(
        self,
        cur: sql.Cursor,
        lineage: str,
        serial: int,
        audit_drafts: Sequence[Mapping[str, Any]],
        chain_key: ChainKey | None,
    ) -> list[AuditEvent]:
        """Seal and append the apply's audit events and bump the serial (the caller's
        transaction commits them with the changes)."""
        last = sql.last_audit(cur)
        try:
            events = seal(
                audit_drafts,
                last[1] if last else GENESIS,
                last[0] + 1 if last else 1,
                chain_key,
                lineage,
            )
        except LlmformError as exc:  # a bad value or a key that cannot seal: roll back
            raise StoreError(f"apply refused, nothing changed: {exc}") from None
        sql.insert_audit(cur, events)
        cur.execute("UPDATE meta SET value = ? WHERE key = 'serial'", (str(serial + 1),))
        return events

    def audit_events(self, cur: sql.Cursor) -> list[AuditEvent]:
        try:
            return sql.read_audit(cur)
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(
                f"the store {self.display_url} is damaged: a row of table audit_events cannot "
                f"be read ({type(exc).__name__}: {exc}); {PG_RESTORE}"
            ) from None
