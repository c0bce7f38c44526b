"""llmform's own record of what it did: the audit events, their chain and key, the trail's copy,
the actor, and the lock a run holds.
"""
