"""Backups and restore of the store (and the SQLite queue), done the safe way.

On PostgreSQL (``database.url``) the snapshot is ``pg_dump``'s custom format and
restore is ``pg_restore`` (``services.pg_backup``); folders, manifest, rotation
and the worker guard are the same. A Redis queue is not backed up: it only holds
work in flight. Below, the SQLite way:

``backup()`` copies ``batchops.db`` and ``queue.db`` with SQLite's online backup
API (a consistent snapshot while workers keep writing), checks each copy with
``PRAGMA integrity_check``, writes a ``manifest.json`` (sizes, SHA-256, schema
version) and, for the default location ``backups/<UTC time>/``, keeps only the
newest ``retention.backups_keep``.

``restore(path)`` puts a backup's store back: it refuses while a worker is alive
(fresh heartbeat) unless ``force``, verifies the backup first, keeps the current
store as ``batchops.db.pre-restore-<time>``, copies into a temp file beside the
store, removes the stale ``-wal``/``-shm`` files and renames the copy into place;
then the schema is upgraded if the backup is older. The queue is not restored:
it only holds work in flight, and a stale queue would re-deliver old tasks.

In object storage (``services.remote_backup``): with ``storage.url`` set the default backup is also
put under the bucket's ``backups/`` and rotated there; ``backup(to="s3://bucket/prefix")`` puts the
snapshot there only, and ``restore("s3://…")`` reads one back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from batchops import clock, context
from batchops.clock import utc_now
from batchops.errors import InputError, WorkError
from batchops.services import remote_backup
from batchops.store import files
from batchops.store.objects import objects

STORE = "batchops.db"
QUEUE = "queue.db"
STAMP = re.compile(r"^\d{8}T\d{6}(\d{6})?Z(-\d+)?$")


def backups_dir() -> Path:
    return context.home() / "backups"


def _on_postgres() -> bool:
    from batchops.store.db import is_postgres_url

    return is_postgres_url(context.config().database.url)


def _require_sqlite_store() -> Path:
    cfg = context.config()
    if cfg.database.url:
        raise InputError(
            "backup/restore handle SQLite and PostgreSQL stores; for other database.url servers use their own tools",
            code="E_BACKUP_UNSUPPORTED",
        )
    return context.home() / STORE


def _sha256(path: Path) -> str:
    return files.sha256_file(path)


def integrity(path: Path) -> str:
    """PRAGMA integrity_check on a database file, read-only ('ok' when sound)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return f"cannot open: {exc}"
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as exc:
        return f"{exc.__class__.__name__}: {exc}"
    finally:
        conn.close()
    return "ok" if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:5])


def _online_copy(source: Path, target: Path) -> None:
    """Consistent copy of a live database with the online backup API, into a temp file, then renamed."""
    src = sqlite3.connect(str(source), timeout=30)
    try:
        with files.atomic_path(target) as tmp:
            dst = sqlite3.connect(str(tmp))
            try:
                src.backup(dst, pages=1024)
                dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file: no -wal beside it
                dst.commit()
            finally:
                dst.close()
    finally:
        src.close()


def _schema_version(path: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        finally:
            conn.close()
        return row[0] if row else None
    except sqlite3.Error:
        return None


def _new_folder(root: Path) -> Path:
    """A folder no backup ever had: microseconds in the name, and mkdir refuses one that exists."""
    stamp = f"{utc_now():%Y%m%dT%H%M%S%fZ}"
    n = 1
    while True:
        folder = root / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            n += 1


def backup(to: str | os.PathLike | None = None, keep: int | None = None) -> dict:
    """Snapshot the store (and queue.db when it is SQLite) into a new folder; verified; rotated.

    ``to``: another folder (no rotation there) or an ``s3://bucket/prefix`` URL (services.remote_backup).
    """
    context.require_writable()  # it writes and it deletes old snapshots
    if remote_backup.is_url(to):
        return _backup_to_url(str(to))
    default = to is None
    folder, out = _snapshot(backups_dir() if to is None else Path(to).expanduser().resolve())
    out["rotated"] = rotate(keep, protect=folder) if default else []
    if default and objects().remote:  # shared storage: the snapshot goes beside the files, rotated there too
        out.update(remote_backup.upload(folder, objects(), "backups"))
        remote_backup.rotate(objects(), "backups", _keep(keep), STAMP)
    return out


def _keep(keep: int | None) -> int:
    return max(1, int(context.config().retention.backups_keep if keep is None else keep))


def _backup_to_url(url: str) -> dict:
    """The snapshot made in a temp folder of the data home, then put at ``url`` (no rotation there)."""
    target = remote_backup.bucket_at(url)  # a bad URL or a missing extra fails before any work
    context.home().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=context.home()) as staging:
        folder, out = _snapshot(Path(staging))
        out.update(remote_backup.upload(folder, target, ""))
    out.update(path=out["stored_at"], rotated=[])
    return out


def _snapshot(root: Path) -> tuple[Path, dict]:
    root.mkdir(parents=True, exist_ok=True)
    return _snapshot_postgres(root) if _on_postgres() else _snapshot_sqlite(root)


def _snapshot_sqlite(root: Path) -> tuple[Path, dict]:
    store = _require_sqlite_store()
    if not store.exists():
        raise InputError(f"no store to back up at {store} (run batchops init)", code="E_FILE_NOT_FOUND")
    folder = _new_folder(root)
    items = []
    sources = [(STORE, store)]
    queue = context.home() / QUEUE
    if not context.config().queue.url and queue.exists():
        sources.append((QUEUE, queue))
    try:
        for name, source in sources:
            target = folder / name
            _online_copy(source, target)
            check = integrity(target)
            if check != "ok":
                raise WorkError(f"backup of {name} failed its integrity check: {check}", code="E_BACKUP_CORRUPT")
            items.append({"file": name, "bytes": target.stat().st_size, "sha256": _sha256(target), "integrity": check})
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    manifest = {
        "created_at": clock.iso(utc_now()),
        "data_dir": str(context.home()),
        "schema_version": _schema_version(folder / STORE),
        "files": items,
    }
    files.atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=2))
    return folder, {"path": str(folder), "files": items, "verified": True, "schema_version": manifest["schema_version"]}


def _made_at(folder: Path) -> datetime:
    """When the backup was made, from its manifest; else (no or bad manifest) the folder's mtime."""
    try:
        made = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["created_at"]
        return clock.as_utc(datetime.fromisoformat(made.replace("Z", "+00:00")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc)


def _snapshot_postgres(root: Path) -> tuple[Path, dict]:
    from batchops.services import pg_backup
    from batchops.store import migrations

    folder = _new_folder(root)
    target = folder / pg_backup.ARCHIVE
    try:
        checked = pg_backup.dump(context.config().database.url, target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    integrity = f"ok ({checked['entries']} tables, pg_restore --list)"
    items = [{"file": target.name, "bytes": target.stat().st_size, "sha256": _sha256(target), "integrity": integrity}]
    manifest = {
        "created_at": clock.iso(utc_now()),
        "data_dir": str(context.home()),
        "format": "pg_dump custom",
        "schema_version": migrations.current_version(),
        "files": items,
    }
    files.atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=2))
    return folder, {"path": str(folder), "files": items, "verified": True, "schema_version": manifest["schema_version"]}


def list_backups(root: Path | None = None) -> list[Path]:
    """Backups under ``root`` (default backups/), oldest first by the time they were made.

    Folder names only sort by time while the clock never went back; a folder dated in the
    future (a clock once ahead) or a name with a counter (-10 sorts before -2) would not.
    A folder holds a SQLite snapshot or, on PostgreSQL, a pg_dump archive.
    """
    from batchops.services.pg_backup import ARCHIVE

    root = root or backups_dir()
    if not root.is_dir():
        return []
    found = [
        p
        for p in root.iterdir()
        if p.is_dir() and STAMP.match(p.name) and ((p / STORE).exists() or (p / ARCHIVE).exists())
    ]
    return sorted(found, key=lambda p: (_made_at(p), p.name))


def rotate(keep: int | None = None, protect: Path | None = None) -> list[str]:
    """Keep the newest ``keep`` (default retention.backups_keep) backups under backups/; returns removed paths.

    ``protect`` (the snapshot just made) is never removed, whatever the others' times say.
    """
    keep = _keep(keep)
    others = [p for p in list_backups() if protect is None or p.resolve() != protect.resolve()]
    keep_others = keep - 1 if protect is not None else keep
    removed = []
    for old in others[: len(others) - keep_others]:
        shutil.rmtree(old, ignore_errors=True)
        removed.append(str(old))
    return removed


def _source_file(path: Path) -> Path:
    if path.is_dir():
        candidate = path / STORE
        if not candidate.is_file():
            raise InputError(f"{path} holds no {STORE}", code="E_FILE_NOT_FOUND")
        return candidate
    if not path.is_file():
        raise InputError(f"backup not found: {path}", code="E_FILE_NOT_FOUND")
    return path


def _other_processes_using(store: Path) -> list[int]:
    """PIDs (other than ours) holding the store file open; Linux /proc only, else nothing known."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    target = str(store.resolve())
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) == target for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
        except OSError:  # gone, or not ours to look at
            continue
    return sorted(found)


def restore(file: str | os.PathLike, force: bool = False) -> dict:
    """Replace the store with a backup (a backup folder, a .db file, or an s3:// URL of a backup folder)."""
    from batchops.services.health import workers_online
    from batchops.store import open_store
    from batchops.store.db import db

    context.require_writable()
    if remote_backup.is_url(file):  # downloaded into a temp folder, restored from there, files put back
        return remote_backup.restore(str(file), STAMP, lambda folder: restore(folder, force))
    if _on_postgres():
        return _restore_postgres(Path(file).expanduser().resolve(), force)
    store = _require_sqlite_store()
    source = _source_file(Path(file).expanduser().resolve())
    if source.resolve() == store.resolve():
        raise InputError("that is the live store itself", code="E_RESTORE_INVALID")
    alive = workers_online()
    if alive and not force:
        names = ", ".join(w["worker_id"] for w in alive)
        raise InputError(f"a worker is running ({names}); stop it first or pass --force", code="E_WORKER_ALIVE")
    holders = _other_processes_using(store)
    if holders and not force:
        # A TUI or CLI left open would keep writing into the replaced file, and those writes would be lost.
        raise InputError(
            f"other processes have the store open (pids {', '.join(map(str, holders))}); "
            "close them (a TUI?) or pass --force",
            code="E_STORE_IN_USE",
        )
    check = integrity(source)
    if check != "ok":
        raise InputError(f"{source} failed its integrity check: {check}", code="E_RESTORE_INVALID")
    from batchops.store.migrations import check_restorable

    version = check_restorable(source)  # version, tables, columns; no triggers or views

    stamp = f"{utc_now():%Y%m%dT%H%M%SZ}"
    staged = store.with_name(f".{STORE}.restore-{stamp}.tmp")
    _online_copy(source, staged)
    try:
        check_restorable(staged)  # what is swapped in is this copy: check it, not only the source
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    keep_copy = None
    if db.obj is not None and not db.is_closed():
        db.close()
    try:
        if store.exists():
            keep_copy = store.with_name(f"{STORE}.pre-restore-{stamp}")
            _online_copy(store, keep_copy)  # includes whatever was still in the -wal
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
        os.replace(staged, store)
    finally:
        staged.unlink(missing_ok=True)
    open_store(context.config(), seed=False)  # rebinds and upgrades an older backup's schema
    from batchops.queue import app

    app.reset()
    return {
        "restored_from": str(source),
        "store": str(store),
        "schema_version_in_backup": version,
        "previous_store_kept_as": str(keep_copy) if keep_copy else None,
        "forced": bool((alive or holders) and force),
    }


def _restore_postgres(path: Path, force: bool) -> dict:
    """pg_restore a backup over the store; the current contents are dumped beside the backups first."""
    from batchops.services import pg_backup
    from batchops.services.health import workers_online
    from batchops.store import open_store
    from batchops.store.db import db

    archive = path / pg_backup.ARCHIVE if path.is_dir() else path
    if not archive.is_file():
        raise InputError(f"{path} holds no {pg_backup.ARCHIVE}", code="E_FILE_NOT_FOUND")
    alive = workers_online()
    if alive and not force:
        names = ", ".join(w["worker_id"] for w in alive)
        raise InputError(f"a worker is running ({names}); stop it first or pass --force", code="E_WORKER_ALIVE")
    try:
        pg_backup.verify(archive)
    except WorkError as exc:
        raise InputError(exc.message, code="E_RESTORE_INVALID") from None
    url = context.config().database.url
    keep_dir = _new_folder(backups_dir() / "pre-restore")
    keep_copy = keep_dir / pg_backup.ARCHIVE
    pg_backup.dump(url, keep_copy)
    if db.obj is not None and not db.is_closed():
        db.close()
    pg_backup.load(url, archive)
    open_store(context.config(), seed=False)  # upgrades an older backup's schema
    manifest = archive.parent / "manifest.json"
    version = json.loads(manifest.read_text(encoding="utf-8")).get("schema_version") if manifest.is_file() else None
    from batchops.queue import app

    app.reset()
    return {
        "restored_from": str(archive),
        "store": pg_backup.libpq_target(url)[0],
        "schema_version_in_backup": version,
        "previous_store_kept_as": str(keep_copy),
        "forced": bool(alive and force),
    }
