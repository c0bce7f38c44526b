"""The SQLite registry: the target applications read (``llmform.registry``), which also keeps
llmform's state (lineage, serial, lock, audit events, fingerprint key) in the same file: a
self-stated target (``targets.base.Store``). Its state half (``sqlite_state``, ``sqlite_lock``)
touches no resource table; its target half (``registry_sql``) no state table.
"""
