"""Orchestration: a desired state, secrets, key checks and a backend to a Plan (``plan``), a Plan
to a backend (``apply``, ``steps`` for a target that applies step by step), saved plans,
destroy; one function per command (``plan_run``, ``apply_run``, ``saved_apply``, ``destroy``,
``store_commands``) over the backend a command works on (``backend``: a target and its state).
The CLI calls these and prints; they print nothing.
"""
