"""Kept for `from dicom_factory import ...` in tests/emr_core/dimse/testdata.py; the helpers live in tests/support."""

from tests.support.dicom_factory import *  # noqa: F403 - a re-export shim, dropped once testdata.py imports tests.support
