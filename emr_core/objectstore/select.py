"""The configured store (SGM_STORAGE_URL), and the store behind a stored location."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from emr_core.objectstore.base import ObjectStore
from emr_core.objectstore.local import LocalObjectStore
from emr_core.objectstore.s3 import S3ObjectStore, s3_client, split_s3_url
from emr_core.settings import Settings, load_settings


def object_store(settings: Settings) -> ObjectStore:
    """Where new DICOM objects go: storage/ in the data folder unless SGM_STORAGE_URL says otherwise."""
    url = settings.storage_url
    if not url:  # unset, or set empty (compose passes an empty default through)
        return LocalObjectStore(settings.storage_dir, settings.root)
    if url.startswith("file://"):
        return LocalObjectStore(Path(unquote(urlparse(url).path)), settings.root)
    bucket, prefix = split_s3_url(url)
    return _s3(settings, bucket, prefix)


def _s3(settings: Settings, bucket: str, prefix: str) -> S3ObjectStore:
    make_client = partial(
        s3_client, settings.s3_endpoint_url, settings.s3_access_key_id, settings.s3_secret, settings.s3_region
    )
    return S3ObjectStore(bucket, prefix, make_client, settings.storage_multipart_bytes, settings.storage_part_bytes)


def resolve(settings: Settings, location: str) -> tuple[ObjectStore, str]:
    """The store and key of a stored location (an Instance.stored_path)."""
    if location.startswith("s3://"):
        bucket, key = split_s3_url(location)
        return _s3(settings, bucket, ""), key
    # Relative to the data folder (or absolute, for rows written outside it).
    return LocalObjectStore(settings.root, settings.root), location


def open_stored(settings: Settings, location: str) -> BinaryIO:
    """A seekable reader of a stored object; remote objects fetch only the ranges read."""
    store, key = resolve(settings, location)
    return store.open(key)


@lru_cache(maxsize=8)
def _settings_at(root: Path) -> Settings:
    return load_settings(home=root)


def open_at(root: Path, location: str) -> BinaryIO:
    """open_stored for callers holding only the data folder (S3 endpoint and keys from SGM_* variables)."""
    return open_stored(_settings_at(root), location)


@contextmanager
def stored_file(settings: Settings, location: str) -> Iterator[Path]:
    """A local path of a stored object, for libraries that want one (a temporary copy if remote)."""
    store, key = resolve(settings, location)
    with store.local_path(key) as path:
        yield path
