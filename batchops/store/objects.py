"""Where files live: the data home (default) or S3-compatible object storage, behind one small interface.

Everything that is a file - originals, reports, digests, scrape snapshots, the outbox, backups - is
named by a *key*: a relative POSIX path such as ``files/ab/abcd….csv`` or ``exports/12/x_report.csv``.
The store keeps keys, never one machine's absolute paths, so any machine can resolve them.

* ``LocalObjects`` - the data home itself (``storage.url`` empty): key = path under the home, written
  to a temp name and renamed, exactly as before.
* ``S3Objects`` - ``storage.url = "s3://bucket/prefix"`` (boto3, the ``batchops[s3]`` extra); the
  endpoint is configurable for MinIO and other S3 servers. Files the pipeline needs on disk (originals,
  reports being written) still pass through the local data home, which acts as a cache of the bucket.

``objects()`` is the running configuration's backend. boto3 is imported only when an s3 URL is used.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from batchops import context
from batchops.config import Config, StorageConfig
from batchops.errors import ConfigError, InputError, StorageError
from batchops.fsutil import atomic_path, atomic_write_bytes

EXTRA_HINT = 'pip install "batchops[s3]"'


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    mtime: float  # seconds since the epoch (UTC)
    etag: str = ""


def check_key(key: str) -> str:
    """A key is relative and never climbs: ``files/ab/x.csv`` yes, ``/etc/x`` or ``a/../../b`` no."""
    pure = PurePosixPath(key)
    if not key or pure.is_absolute() or ".." in pure.parts or "\\" in key:
        raise InputError(f"not a storage key: {key!r}", code="E_PATH_ESCAPE")
    return pure.as_posix()


def key_of(value: str | None, home: Path) -> str | None:
    """A stored file reference as a key. Older stores kept absolute paths: one under ``home`` becomes
    its key; one elsewhere (another machine's home) becomes the key after its ``exports/``/``files/``."""
    if not value:
        return None
    if not os.path.isabs(value):
        return check_key(value)
    path = Path(value)
    try:
        return path.resolve().relative_to(Path(home).resolve()).as_posix()
    except ValueError:
        parts = path.parts
        for top in ("exports", "files"):
            if top in parts:
                return PurePosixPath(*parts[len(parts) - parts[::-1].index(top) - 1 :]).as_posix()
    return None


class LocalObjects:
    """The data home: key = the file at that path under the home."""

    remote = False

    def __init__(self, home: Path):
        self.home = Path(home)

    def describe(self) -> str:
        return f"local:{self.home}"

    def path(self, key: str) -> Path:
        from batchops.store.files import safe_join

        return safe_join(self.home, check_key(key))

    def location(self, key: str) -> str:
        return str(self.path(key))

    def put_file(self, key: str, source: Path) -> None:
        target = self.path(key)
        if Path(source).resolve() == target:
            return  # written in place already (store_original, the pipeline's out_dir)
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)

    def put_bytes(self, key: str, data: bytes) -> None:
        atomic_write_bytes(self.path(key), data)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"{key} is missing from the data home", code="E_OBJECT_MISSING") from None

    def fetch(self, key: str) -> Path:
        """A local file holding the (immutable) object: here, the file itself."""
        return self.path(key)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix.rstrip("/")), ignore_errors=True)

    def list(self, prefix: str) -> list[ObjectInfo]:
        root = self.path(prefix.rstrip("/"))
        if not root.is_dir():
            return []
        out = []
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):  # temp files of atomic writes
                st = path.stat()
                out.append(ObjectInfo(path.relative_to(self.home).as_posix(), st.st_size, st.st_mtime))
        return out

    def check(self) -> dict:
        return {"ok": self.home.is_dir(), "backend": self.describe()}


def _parse_s3_url(url: str, setting: str = "storage.url") -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"{setting} must look like s3://bucket/prefix, not {url!r}")
    return parts.netloc, parts.path.strip("/")


def _secret(cfg: StorageConfig) -> str:
    if cfg.secret_key_file:
        path = Path(cfg.secret_key_file).expanduser()
        try:
            if path.stat().st_mode & 0o077:
                raise ConfigError(f"storage.secret_key_file {path} must be readable only by its owner (chmod 600)")
            return path.read_text(encoding="utf-8").strip()
        except OSError:
            raise ConfigError(f"storage.secret_key_file {path} cannot be read") from None
    return os.environ.get(cfg.secret_key_env, "") if cfg.secret_key_env else ""


def s3_client(cfg: StorageConfig) -> Any:
    """A boto3 S3 client for the configured endpoint and credentials (the AWS chain when none are set)."""
    try:
        import boto3
        from botocore.config import Config as BotoConfig
    except ImportError:
        raise ConfigError(f"s3:// storage needs boto3: {EXTRA_HINT}", code="E_STORAGE_EXTRA_MISSING") from None
    kwargs: dict[str, Any] = {}
    if cfg.endpoint_url:
        kwargs["endpoint_url"] = cfg.endpoint_url
    if cfg.access_key_id:
        kwargs["aws_access_key_id"] = cfg.access_key_id
        kwargs["aws_secret_access_key"] = _secret(cfg)
    return boto3.client(
        "s3",
        region_name=cfg.region or "us-east-1",
        config=BotoConfig(
            connect_timeout=cfg.timeout,
            read_timeout=cfg.timeout,
            retries={"max_attempts": 2},
            s3={"addressing_style": "path"} if cfg.endpoint_url else {},
        ),
        **kwargs,
    )


def storage_error(exc: Exception, where: str) -> StorageError:
    """A boto/botocore failure as a coded, one-line error (never a traceback)."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if not code:  # boto3's transfer errors (upload_file) carry the S3 code only in their text
        code = next(
            (
                c
                for c in ("NoSuchBucket", "NoSuchKey", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch")
                if c in str(exc)
            ),
            "",
        )
    if code in ("NoSuchBucket",):
        return StorageError(f"{where}: the bucket does not exist", code="E_STORAGE_NO_BUCKET")
    if code in ("NoSuchKey", "404", "NotFound"):
        return StorageError(f"{where} is missing from object storage", code="E_OBJECT_MISSING")
    if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
        return StorageError(f"{where}: access denied ({code}); check the storage credentials", code="E_STORAGE_DENIED")
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    return StorageError(f"{where}: object storage unreachable or failing ({text})", code="E_STORAGE_UNREACHABLE")


class S3Objects:
    """An S3 bucket (AWS, MinIO, any S3 API), keys under ``prefix/``; the data home is its local cache."""

    remote = True

    def __init__(self, url: str, cfg: StorageConfig, home: Path, setting: str = "storage.url"):
        self.bucket, self.prefix = _parse_s3_url(url, setting)
        self.cfg = cfg
        self.home = Path(home)
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.cfg)
        return self._client

    def _name(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def describe(self) -> str:
        endpoint = f" at {self.cfg.endpoint_url}" if self.cfg.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/") + endpoint

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._name(key)}"

    def _call(self, where: str, fn, *args, **kwargs):
        try:
            from boto3.exceptions import Boto3Error
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise ConfigError(f"s3:// storage needs boto3: {EXTRA_HINT}", code="E_STORAGE_EXTRA_MISSING") from None
        try:
            return fn(*args, **kwargs)
        except (Boto3Error, BotoCoreError, ClientError) as exc:
            raise storage_error(exc, where) from None

    def put_file(self, key: str, source: Path) -> None:
        self._call(self.location(key), self.client.upload_file, str(source), self.bucket, self._name(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call(self.location(key), self.client.put_object, Bucket=self.bucket, Key=self._name(key), Body=data)

    def get_bytes(self, key: str) -> bytes:
        answer = self._call(self.location(key), self.client.get_object, Bucket=self.bucket, Key=self._name(key))
        return answer["Body"].read()

    def download(self, key: str, target: Path) -> Path:
        """The object into ``target`` (temp name, then renamed)."""
        with atomic_path(target) as tmp:
            self._call(self.location(key), self.client.download_file, self.bucket, self._name(key), str(tmp))
        return target

    def fetch(self, key: str) -> Path:
        """A local file holding the object; for immutable keys (originals), cached in the data home."""
        from batchops.store.files import safe_join

        local = safe_join(self.home, check_key(key))
        return local if local.is_file() else self.download(key, local)

    def exists(self, key: str) -> bool:
        try:
            self._call(self.location(key), self.client.head_object, Bucket=self.bucket, Key=self._name(key))
        except StorageError as exc:
            if exc.code == "E_OBJECT_MISSING":
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self._call(self.location(key), self.client.delete_object, Bucket=self.bucket, Key=self._name(key))

    def delete_prefix(self, prefix: str) -> None:
        keys = [info.key for info in self.list(prefix)]
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": self._name(k)} for k in keys[start : start + 1000]]
            self._call(
                self.location(prefix),
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": chunk, "Quiet": True},
            )

    def list(self, prefix: str) -> list[ObjectInfo]:
        head = self._name(prefix.rstrip("/")) + "/" if prefix.strip("/") else (f"{self.prefix}/" if self.prefix else "")
        skip = len(self.prefix) + 1 if self.prefix else 0
        out = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=head)
        for page in self._call(self.location(prefix or "."), list, pages):
            for item in page.get("Contents", []):
                out.append(
                    ObjectInfo(
                        item["Key"][skip:],
                        int(item["Size"]),
                        item["LastModified"].timestamp(),
                        item.get("ETag", "").strip('"'),
                    )
                )
        return sorted(out, key=lambda i: i.key)

    def check(self) -> dict:
        out: dict[str, Any] = {"ok": False, "backend": self.describe()}
        started = time.monotonic()
        try:
            self._call(f"s3://{self.bucket}", self.client.head_bucket, Bucket=self.bucket)
            out.update(ok=True, reachable=True, latency_ms=round((time.monotonic() - started) * 1000, 1))
        except (StorageError, ConfigError) as exc:
            out.update(reachable=False, error=str(exc))
        return out


Objects = LocalObjects | S3Objects
_cached: tuple[Config, Objects] | None = None


def build(cfg: Config) -> Objects:
    if cfg.storage.url:
        return S3Objects(cfg.storage.url, cfg.storage, cfg.home)
    return LocalObjects(cfg.home)


def objects() -> Objects:
    """The running configuration's storage (rebuilt when another configuration is loaded)."""
    global _cached
    cfg = context.config()
    if _cached is None or _cached[0] is not cfg:
        _cached = (cfg, build(cfg))
    return _cached[1]
