"""The SQLite registry: the target applications read (``llmform.registry``), which also keeps
llmform's state (lineage, serial, lock, audit events, fingerprint key) in the same file.
"""
