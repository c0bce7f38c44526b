"""The desired state: files -> documents with file:line:col -> JSON Schema -> semantic checks ->
DesiredState. Pure: reads the files it is given, and nothing else (no store, secret or network).
"""
