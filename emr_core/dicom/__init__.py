"""DICOM folder ingest: header-only indexing, managed storage, quarantine, index upsert."""

from emr_core.dicom.header import HeaderError, InstanceHeader, read_header, read_header_bytes
from emr_core.dicom.ingest import (
    IngestReport,
    collect_files,
    index_headers,
    ingest_file,
    ingest_paths,
)
from emr_core.dicom.storage import StoredFile, instance_path, store_bytes, store_file

__all__ = [
    "HeaderError",
    "IngestReport",
    "InstanceHeader",
    "StoredFile",
    "collect_files",
    "index_headers",
    "ingest_file",
    "ingest_paths",
    "instance_path",
    "read_header",
    "read_header_bytes",
    "store_bytes",
    "store_file",
]
