"""Object storage for DICOM: a local folder or S3-compatible storage behind one interface."""

from emr_core.objectstore.base import (
    ObjectMissingError,
    ObjectStore,
    ObjectStoreError,
    StoredObject,
    StoreUnreachableError,
)
from emr_core.objectstore.local import LocalObjectStore
from emr_core.objectstore.s3 import S3ObjectStore, s3_client
from emr_core.objectstore.select import object_store, open_at, open_stored, resolve, stored_file

__all__ = [
    "LocalObjectStore",
    "ObjectMissingError",
    "ObjectStore",
    "ObjectStoreError",
    "S3ObjectStore",
    "StoreUnreachableError",
    "StoredObject",
    "object_store",
    "open_at",
    "open_stored",
    "resolve",
    "s3_client",
    "stored_file",
]
