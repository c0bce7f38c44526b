"""The pure plan core: resources in normal form, the diff, the Plan (data) and its renderings.
No I/O: a store, secrets and key checks reach it as values.
"""
