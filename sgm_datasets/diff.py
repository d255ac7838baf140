"""What changed between two versions: images and labels added, removed, changed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

LABEL_FIELDS = ("density", "breast_birads", "findings", "split")


@dataclass
class VersionDiff:
    images_added: list[str] = field(default_factory=list)
    images_removed: list[str] = field(default_factory=list)
    images_changed: list[str] = field(default_factory=list)  # same image id, other file content
    labels_added: list[str] = field(default_factory=list)  # finding ids
    labels_removed: list[str] = field(default_factory=list)
    labels_changed: list[str] = field(default_factory=list)  # image ids whose read or split changed

    @property
    def empty(self) -> bool:
        return not any(vars(self).values())


def _findings(manifest: pd.DataFrame) -> set[str]:
    return {f["finding_id"] for cell in manifest["findings"] for f in json.loads(cell)}


def diff_manifests(a: pd.DataFrame, b: pd.DataFrame) -> VersionDiff:
    left, right = a.set_index("image_id"), b.set_index("image_id")
    common = sorted(set(left.index) & set(right.index))
    result = VersionDiff(
        images_added=sorted(set(right.index) - set(left.index)),
        images_removed=sorted(set(left.index) - set(right.index)),
    )
    for image in common:
        before, after = left.loc[image], right.loc[image]
        if (before["dicom_sha256"], before["png_sha256"]) != (after["dicom_sha256"], after["png_sha256"]):
            result.images_changed.append(image)
        if any(before[f] != after[f] for f in LABEL_FIELDS if f != "findings") or _boxes(before) != _boxes(after):
            result.labels_changed.append(image)
    fa, fb = _findings(a), _findings(b)
    result.labels_added, result.labels_removed = sorted(fb - fa), sorted(fa - fb)
    return result


def _boxes(row: pd.Series) -> list[dict[str, object]]:
    return sorted(json.loads(row["findings"]), key=lambda f: str(f["finding_id"]))
