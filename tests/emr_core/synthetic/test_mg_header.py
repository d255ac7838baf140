"""The fast writer writes every corpus file byte for byte as pydicom's writer does, and as published corpora hold."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from emr_core.synthetic import CorpusOptions, generate_corpus
from emr_core.synthetic.corpus import STUDY_IMAGE_VARIANTS, StudyPlan, plan_corpus
from emr_core.synthetic.mg_dataset import DEVICES
from emr_core.synthetic.mg_header import write_reference_image
from emr_core.synthetic.registry import STUDY_VARIANTS

# 60 persons: every quota-drawn variant occurs at least once (shared_name_dob needs 50) and all 4 devices show up.
OPTIONS = CorpusOptions(patients=60, seed=7, columns=64, rows=64, registry_extra=40)


# Digests of every file of these corpora as they were published (before the fast writer): names and contents.
PUBLISHED = {
    "small": "5d45ca6b550a03501ea9b3fb9a8dba6ea387869017349cd071aee6e9eb4780f0",
    "full size": "88f648378499e70671eed1e351a441377bb6d277466907940d14799b5150dd82",
}


def _digest(files: dict[str, bytes]) -> str:
    total = hashlib.sha256()
    for name, content in sorted(files.items()):
        total.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return total.hexdigest()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _covered(plans: list[StudyPlan]) -> set[str]:
    """The header variants the plans exercise, named like the corpus names them."""
    seen = {v for p in plans for v in p.variants}
    for p in plans:
        device, ident = p.header.device, p.header.identity
        seen |= {device.model, device.photometric, device.description_style, f"utf8={ident.utf8}"}
        seen |= {"legacy_view_code"} if device.legacy_view_codes else {"sct_view_code"}
        seen |= {"no_issuer"} if not ident.issuer else set()
        for task in p.images:
            seen |= set(task.variant.split(";"))
            seen |= {"series_laterality"} if task.image.series_laterality else set()
    return seen


def test_options_cover_every_device_and_header_variant() -> None:
    _, plans = plan_corpus(OPTIONS)
    wanted = {d.model for d in DEVICES} | {"MONOCHROME1", "MONOCHROME2", "vn", "utf8=True", "utf8=False"}
    wanted |= {"legacy_view_code", "sct_view_code", "no_issuer", "series_laterality", "standard", "exact"}
    wanted |= {flag for flag, _ in STUDY_IMAGE_VARIANTS} | {"series_laterality_only", "description_only"}
    wanted |= {variant for variant, _ in STUDY_VARIANTS} | {"not_in_registry", "shared_name_dob"}
    assert wanted <= _covered(plans)


def test_fast_writer_is_byte_identical_to_the_pydicom_reference(tmp_path: Path) -> None:
    reference = generate_corpus(tmp_path / "reference", OPTIONS, writer=write_reference_image)
    # Two workers for the fast one: the output must not depend on the worker count either.
    fast = generate_corpus(tmp_path / "fast", CorpusOptions(**{**OPTIONS.__dict__, "workers": 2}))
    assert replace(fast, out=reference.out) == reference
    expected, written = _files(tmp_path / "reference"), _files(tmp_path / "fast")
    assert sorted(written) == sorted(expected)
    assert sum(name.endswith(".dcm") for name in written) == reference.images
    differing = [name for name in expected if written[name] != expected[name]]
    assert not differing, differing[:5]
    assert _digest(written) == PUBLISHED["small"]


def test_full_size_images_match_too(tmp_path: Path) -> None:
    # The default 832x1024 matrix: pixel data far past 64 KiB, other spacing strings.
    options = CorpusOptions(patients=1, seed=2)
    generate_corpus(tmp_path / "reference", options, writer=write_reference_image)
    generate_corpus(tmp_path / "fast", options)
    expected, written = _files(tmp_path / "reference"), _files(tmp_path / "fast")
    assert sum(name.endswith(".dcm") for name in written) == 4
    assert written == expected
    assert _digest(written) == PUBLISHED["full size"]
