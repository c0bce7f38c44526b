"""The state's SQL, for SQLite and PostgreSQL: the registry's state half (``meta``, ``locks``,
``audit_events``, in the registry's own tables) and the state store of targets that keep no
state of their own (``state.stores``), which keeps the same rows, one target's apart from
another's by its URL (``scope.Scope``)."""
