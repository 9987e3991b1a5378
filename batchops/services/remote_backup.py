"""Backup snapshots in object storage: put a local snapshot folder there, and get one back.

A snapshot folder (``batchops.db`` [+ ``queue.db``] or ``batchops.pgdump``, ``manifest.json``) goes
to ``<base>/<stamp>/`` in a bucket: the configured storage's ``backups/`` (the default backup when
``storage.url`` is s3://, rotated there too) or any ``s3://bucket/prefix`` given as ``--to`` (the
storage settings' endpoint and credentials; no rotation there, as for a local ``--to`` folder).

The files travel with the store: when they live in the data home (no ``storage.url``) the
originals and reports are copied under ``<stamp>/files/`` and ``<stamp>/exports/``; when they are
already in object storage, ``objects.json`` lists them instead (they are not copied again).
Restore reads the snapshot back into a temp folder, restores the store from it, then puts copied
files back into the running storage, or says which listed objects the storage no longer has.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from batchops import context
from batchops.errors import InputError
from batchops.store.files import atomic_write_text
from batchops.store.objects import Objects, S3Objects, check_key, objects

DATA_PREFIXES = ("files", "exports")  # originals and reports: what the store's keys point at
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # "s3:/x" too (a typo, refused), not a Windows drive "C:"
MANIFEST = "manifest.json"


def is_url(target) -> bool:
    return isinstance(target, str) and bool(URL.match(target))


def bucket_at(url: str) -> S3Objects:
    """``s3://bucket/prefix`` with the storage settings' endpoint and credentials (ConfigError otherwise)."""
    cfg = context.config()
    return S3Objects(url.rstrip("/"), cfg.storage, cfg.home, setting="the backup URL")


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def _data_files() -> list[str]:
    return [i.key for prefix in DATA_PREFIXES for i in objects().list(prefix)]


def upload(folder: Path, target: Objects, base: str) -> dict:
    """Put the snapshot ``folder`` under ``base/<folder name>/`` in ``target``, with the files or their list."""
    storage = objects()
    stamp_key = _join(base, folder.name)
    copied = 0
    if storage.remote:
        listing = [{"key": i.key, "bytes": i.size, "etag": i.etag} for p in DATA_PREFIXES for i in storage.list(p)]
        atomic_write_text(folder / "objects.json", json.dumps(listing, indent=1))
    else:
        listing = []
        for key in _data_files():
            target.put_file(_join(stamp_key, key), storage.fetch(key))
            copied += 1
    for path in sorted(folder.iterdir()):  # the manifest last: a snapshot with one is complete
        if path.name != MANIFEST:
            target.put_file(_join(stamp_key, path.name), path)
    target.put_file(_join(stamp_key, MANIFEST), folder / MANIFEST)
    return {"stored_at": target.location(stamp_key + "/"), "objects_listed": len(listing), "files_copied": copied}


def rotate(target: Objects, base: str, keep: int, stamp: re.Pattern) -> list[str]:
    """Keep the newest ``keep`` snapshots under ``base/`` in ``target``; returns the removed locations."""
    stamps = sorted({k.split("/")[0] for k in _relative_keys(target, base) if stamp.match(k.split("/")[0])})
    removed = []
    for old in stamps[: -max(1, keep)]:
        target.delete_prefix(_join(base, old) + "/")
        removed.append(target.location(_join(base, old) + "/"))
    return removed


def _relative_keys(target: Objects, base: str) -> list[str]:
    head = _join(base)
    return [i.key[len(head) + 1 :] if head else i.key for i in target.list(head)]


def _snapshot_at(url: str, stamp: re.Pattern) -> S3Objects:
    """The snapshot the URL names: a folder holding a manifest, else the newest such folder under it."""
    target = bucket_at(url)
    if target.exists(MANIFEST):
        return target
    found = sorted(
        {
            k.split("/")[0]
            for k in _relative_keys(target, "")
            if stamp.match(k.split("/")[0]) and k.count("/") == 1 and k.endswith("/" + MANIFEST)
        }
    )
    if not found:
        raise InputError(
            f"no backup at {url} (no {MANIFEST} there or in a dated folder under it)", code="E_FILE_NOT_FOUND"
        )
    return bucket_at(f"{url.rstrip('/')}/{found[-1]}")


def restore(url: str, stamp: re.Pattern, restore_folder) -> dict:
    """Download the snapshot at ``url``, ``restore_folder(local folder)`` it, then put its files back."""
    snapshot = _snapshot_at(url, stamp)
    home = context.home()
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=home) as staging:
        folder = Path(staging) / (snapshot.prefix.rsplit("/", 1)[-1] or "snapshot")
        folder.mkdir()
        keys = [check_key(k) for k in _relative_keys(snapshot, "")]  # a key that climbs is refused first
        for key in keys:
            if "/" not in key:
                snapshot.download(key, folder / key)
        out = restore_folder(folder)
        out["restored_from"] = f"s3://{snapshot.bucket}/{snapshot.prefix}".rstrip("/") + "/"
        data = [k for k in keys if k.split("/")[0] in DATA_PREFIXES]
        for key in data:  # after the store: a refused restore changes nothing
            objects().put_file(key, snapshot.download(key, Path(staging) / "data" / key))
        out["files_restored"] = len(data)
        listed = folder / "objects.json"
        if listed.is_file():
            present = set(_data_files())
            wanted = [item["key"] for item in json.loads(listed.read_text(encoding="utf-8"))]
            out["objects_missing"] = [k for k in wanted if k not in present]
    return out
