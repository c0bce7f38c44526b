"""llmform's own record of what it did: the audit events, their chain and key, the trail's copy,
the actor, the lock a run holds, and the StateStore protocol that keeps them for a target
(``state.base``). Nothing here imports a target.
"""
