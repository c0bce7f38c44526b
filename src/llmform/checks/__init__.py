"""Key checks: every key of every config against its live provider, with the schedule, retries,
rotation, cache and pools; ``providers/`` has one adapter per protocol, ``trust*`` decides which
endpoints may receive a key.
"""
