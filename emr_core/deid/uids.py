"""The UID handler we give dicognito: 2.25 UUID-derived UIDs (PS3.5 B.2), the same in every version."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pydicom
from dicognito.element_anonymizer import ElementAnonymizer

# Class UIDs name kinds of things, not patients; this one names a device model and the table says U.
REMAPPED_CLASS_UIDS = frozenset(("ManufacturerDeviceClassUID",))
_NAMESPACE = uuid.UUID("6f1d0c2e-8f0b-5a55-9d3a-5347d2b1e0a1")  # sgm de-identification, fixed forever


def remap_uid(seed: str, uid: str) -> str:
    """A deterministic UUID-derived UID; without the (secret-derived) seed it cannot be traced back."""
    name = seed + "\0" + uid
    return f"2.25.{uuid.uuid5(_NAMESPACE, name).int}"


class UidRemapper(ElementAnonymizer):
    """Replace instance UIDs (nested ones too: dicognito walks sequences) with `remap_uid` values.

    dicognito's own UIDs ("2." + 40 digits) sit under no registered root and change if its formula does.
    """

    def __init__(self, seed: str) -> None:
        self._seed = seed

    def __call__(self, dataset: pydicom.Dataset, data_element: pydicom.DataElement) -> bool:
        if data_element.VR != "UI":
            return False
        keyword = data_element.keyword
        if not data_element.value or keyword == "TransferSyntaxUID":
            return True
        if keyword.endswith("ClassUID") and keyword not in REMAPPED_CLASS_UIDS:
            return True
        if data_element.VM > 1:
            data_element.value = [remap_uid(self._seed, str(v)) for v in data_element.value]
        else:
            data_element.value = remap_uid(self._seed, str(data_element.value))
        return True

    def describe_actions(self) -> Iterator[str]:
        yield "Replace instance UIDs with 2.25 UUID-derived UIDs seeded per patient"
