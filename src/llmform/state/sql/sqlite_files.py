"""The SQLite store's file: opening it read-only or read-write (never creating it by accident),
creating it whole, and saying plainly what is wrong with it or with its permissions.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import shlex
import shutil
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

from ... import files
from ...errors import StoreError

BUSY_TIMEOUT_S = 30.0
RESTORE = "restore the store file from a backup, or correct the row with the sqlite3 shell"


def file_uri(path: str, mode: str) -> str:
    """The SQLite URI of the file ``path`` (``mode`` ro or rw): every character that URIs
    give a meaning (``?``, ``#``, ``%``) quoted, so that ``my#1.db`` is not ``my``, and the
    name's own bytes (a path that is not UTF-8 comes as surrogate escapes)."""
    return f"file:{quote(os.fsencode(os.path.abspath(path)))}?mode={mode}"


def connect(path: str, *, read_only: bool) -> sqlite3.Connection:
    """A connection to the existing file ``path``. SQLite's ``mode=rw``/``mode=ro`` never create
    a file (a plain connect would, should the file vanish meanwhile). Read-only takes no write
    lock ever, so it works on a read-only file or in a read-only directory."""
    conn = sqlite3.connect(
        file_uri(path, "ro" if read_only else "rw"),
        uri=True,
        timeout=BUSY_TIMEOUT_S,
        isolation_level=None,
    )
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def connect_read_only(path: str, display_url: str) -> sqlite3.Connection:
    try:
        return connect(path, read_only=True)
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode != sqlite3.SQLITE_READONLY_ROLLBACK:
            raise
    # A run was killed mid-apply and left its journal: the file must be rolled back before it
    # can be read, which only a connection that may write can do. Rolling back restores what
    # the file held before that apply; it changes nothing that was committed.
    try:
        connect(path, read_only=False).close()
    except sqlite3.Error as exc:
        if (problem := _linked_journal(path)) is not None:
            raise StoreError(f"cannot open the store {display_url}: {problem}") from exc
        raise StoreError(
            f"the store {display_url} holds an unfinished transaction of a run that was killed "
            f"({path}-journal), which must be rolled back before it can be read, and this user "
            "cannot write there; run llmform again as a user who can write the store file and "
            "its directory (any command rolls it back)"
        ) from None
    return connect(path, read_only=True)


def create(memory: sqlite3.Connection, path: str, display_url: str) -> bool:
    """Write the database ``memory`` holds to a new file at ``path``, whole or not at all: built
    in a 0600 temporary file beside it, synced, then linked into place, which fails rather than
    replace anything (a file or a link) that appeared at ``path`` meanwhile; then False."""
    directory = os.path.dirname(path) or "."
    if os.path.islink(directory):
        raise StoreError(
            f"cannot create the store {display_url}: its directory {directory} is a symbolic "
            "link, and llmform creates a store only in a real directory, so that a planted link "
            f"cannot redirect it; name the real path (sqlite:///{os.path.realpath(path)}) or "
            "remove the link"
        )
    created_dirs: list[Path] = []
    tmp = None
    try:
        created_dirs = files.make_private_dirs(directory)
        tmp = files.private_temp(directory, os.path.basename(path))
        target = sqlite3.connect(tmp, isolation_level=None)
        try:
            memory.backup(target)
        finally:
            target.close()
        files.fsync_file(tmp)
        try:
            _link_or_copy(tmp, path)
        except FileExistsError:
            return False
        files.fsync_directory(directory)
        return True
    except (OSError, sqlite3.Error) as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            tmp = None
        files.remove_dirs(created_dirs)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StoreError(
            f"cannot create the store {display_url} in {directory}: {reason}; nothing was created"
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _link_or_copy(tmp: str, path: str) -> None:
    """Put ``tmp`` at ``path`` unless something is there (FileExistsError). A file system
    without hard links gets an exclusive copy instead (whole once this returns)."""
    try:
        os.link(tmp, path)
        return
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, files.PRIVATE_FILE)
    try:
        os.fchmod(fd, files.PRIVATE_FILE)
        with open(tmp, "rb") as source, os.fdopen(os.dup(fd), "wb") as out:
            shutil.copyfileobj(source, out)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def missing(path: str) -> str | None:
    """Why there is no store file at ``path`` (None: there is one)."""
    if os.path.isfile(path):
        return None
    if os.path.isdir(path):
        return f"{path} is a directory; name a file in it"
    if os.path.islink(path):
        return f"{path} is a symbolic link to a missing file"
    if os.path.exists(path):
        return f"{path} is not a regular file"
    where = "" if os.path.isabs(path) else f", relative to {os.getcwd()}"
    hint = ""
    if not os.path.isabs(path) and _meant_absolute(path):
        hint = f"; for the absolute path /{path} write sqlite:////{path} (four slashes)"
    return f"the file {path} does not exist{where}{hint}"


def _meant_absolute(relative: str) -> bool:
    """Whether a relative path that does not exist probably lost its leading slash to the
    URL's three (sqlite:///tmp/x.db): the absolute path, or the folder it would be in, exists.
    A bare name (sqlite:///my.db) is read as meant: its folder would be / itself."""
    folder = os.path.dirname(relative)
    return os.path.exists("/" + relative) or (bool(folder) and os.path.isdir("/" + folder))


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def permission_warnings(path: str) -> tuple[str, ...]:
    """A registry readable by others, owned by someone else, or in a directory where others
    may replace it: worth a warning, not an error (the file may be shared on purpose)."""
    try:
        info = os.stat(path)
    except OSError:
        return ()
    warnings = []
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        what = "readable" if mode & 0o044 else "writable"
        if mode & 0o044 and mode & 0o022:
            what = "readable and writable"
        warnings.append(
            f"the store file {path} is {what} by group/others (mode {mode:04o}); it holds the "
            "registry and its audit trail: make it owner-only with: "
            f"chmod 600 {shlex.quote(path)}"
        )
    me = os.geteuid()
    if info.st_uid != me:
        warnings.append(
            f"the store file {path} is owned by {_user(info.st_uid)} (uid {info.st_uid}), not "
            f"by you ({_user(me)}, uid {me}): its owner can change the registry and its audit "
            f"trail; take it over with: chown {shlex.quote(_user(me))} {shlex.quote(path)} "
            "(or run llmform as its owner)"
        )
    directory = os.path.dirname(path) or "."
    with contextlib.suppress(OSError):
        dir_mode = stat.S_IMODE(os.stat(directory).st_mode)
        # the sticky bit (/tmp) keeps others from renaming or deleting files they do not own
        if dir_mode & 0o022 and not dir_mode & stat.S_ISVTX:
            warnings.append(
                f"the store's directory {directory} is writable by group/others (mode "
                f"{dir_mode:04o}): they can replace the store file with one of their own; make "
                f"it owner-only with: chmod 700 {shlex.quote(directory)}, or move the store"
            )
    return tuple(warnings)


def _linked_journal(path: str) -> str | None:
    for suffix in ("-journal", "-wal", "-shm"):
        if os.path.islink(path + suffix):
            # SQLite refuses the store then ("unable to open database file"): a link planted
            # there would send the journal, a copy of the registry's pages, elsewhere
            return (
                f"{path}{suffix} is a symbolic link, and SQLite opens no store whose journal is "
                "one (it could send a copy of the registry elsewhere); remove it once no run is "
                f"applying: rm {shlex.quote(path + suffix)}"
            )
    return None


def unwritable(path: str) -> str | None:
    """Why this user cannot write the store file at ``path`` (None: it can)."""
    directory = os.path.dirname(path) or "."
    if (problem := _linked_journal(path)) is not None:
        return problem
    if not os.path.exists(path):
        return f"the file {path} does not exist any more"
    if not os.access(path, os.W_OK):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        return (
            f"the file {path} is read-only for this user (mode {mode:04o}); make it writable "
            f"with: chmod 600 {shlex.quote(path)}"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        return (
            f"its directory {directory} is read-only for this user, and SQLite writes a journal "
            "beside the file; make it writable (chmod u+w "
            f"{shlex.quote(directory)}) or move the store"
        )
    return None


def explain(exc: sqlite3.Error, path: str) -> str:
    """SQLite's error in the words a user can act on."""
    code = getattr(exc, "sqlite_errorcode", -1)
    primary = code & 0xFF
    if primary == sqlite3.SQLITE_FULL:
        return f"the disk holding {path} is full ({exc}); free some space and run again"
    if primary == sqlite3.SQLITE_READONLY or code == sqlite3.SQLITE_CANTOPEN:
        return unwritable(path) or f"cannot write {path} ({exc})"
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return f"{path} is damaged or not a SQLite database ({exc}); restore it from a backup"
    if primary == sqlite3.SQLITE_IOERR:
        return f"the disk holding {path} failed a read or write ({exc}); check it and run again"
    return str(exc)


def damaged(url: str, table: str, row: str, problem: str, fix: str = RESTORE) -> StoreError:
    return StoreError(f"the store {url} is damaged: table {table}, row {row}: {problem}; {fix}")
