"""Orchestration: a desired state, secrets, key checks and a store to a Plan (``plan``), a Plan to
a store (``apply``), saved plans, destroy. The CLI calls these; they print nothing.
"""
