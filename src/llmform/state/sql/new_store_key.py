"""The fingerprint key of a store that does not exist yet.

Secrets are fingerprinted with the store's key, and key-check verdicts are cached under those
fingerprints. A store that does not exist yet has no key, and a random one per run would make
every plan against it miss the cache (and ask every provider again). So its key is derived from
a secret kept beside the key-check cache (``$XDG_CACHE_HOME/llmform/new-store.key``, 0600) and
the store's absolute path: the same for every plan this user makes against that path, unknown
to anyone without the secret. The store created there keeps it as its key, so its first apply
finds the plan's verdicts too. When the secret cannot be kept, the key is random.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ... import files

KEY_FILE = "new-store.key"
SECRET_BYTES = 32


def new_store_key(store_path: str) -> bytes:
    secret = _local_secret()
    if secret is None:
        return secrets.token_bytes(SECRET_BYTES)
    where = os.path.abspath(store_path).encode("utf-8", "surrogateescape")
    return hmac.new(secret, b"llmform new store key\0" + where, hashlib.sha256).digest()


def _local_secret() -> bytes | None:
    path = Path(files.cache_dir()) / KEY_FILE
    secret = _read(path)
    if secret is not None:
        return secret
    try:
        files.make_private_dirs(path.parent)
        tmp = files.private_temp(path.parent, KEY_FILE)
        try:
            Path(tmp).write_text(secrets.token_hex(SECRET_BYTES), encoding="ascii")
            with contextlib.suppress(FileExistsError):  # another run made it first: use that
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    except OSError:
        return None
    return _read(path)


def _read(path: Path) -> bytes | None:
    """The secret, if the file is ours, owner-only and well formed (else it is not used)."""
    data = files.read_own_file(path, 4 * SECRET_BYTES)
    if data is None:
        return None
    try:
        secret = bytes.fromhex(data.decode("ascii", "replace").strip())
    except ValueError:
        return None
    return secret if len(secret) == SECRET_BYTES else None
