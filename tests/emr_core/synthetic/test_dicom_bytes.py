"""Element bytes: reused from the cache, and the same when the cache is cleared between repeats."""

from __future__ import annotations

import numpy as np
import pytest

from emr_core.synthetic.corpus import CorpusOptions, plan_corpus
from emr_core.synthetic.dicom_bytes import ElementEncoder, encode_element
from emr_core.synthetic.mg_header import image_bytes


def test_a_cleared_cache_writes_the_same_files() -> None:
    _, plans = plan_corpus(CorpusOptions(patients=3, seed=1, columns=64, rows=64))
    pixels = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    roomy, tiny = ElementEncoder(), ElementEncoder(limit=3)
    for task in (t for p in plans for t in p.images):
        assert image_bytes(task.study, task.image, pixels, tiny) == image_bytes(task.study, task.image, pixels, roomy)


def test_repeats_come_from_the_cache() -> None:
    encoder = ElementEncoder()
    first = encoder.element("PatientName", "Trần^Hà", "ISO_IR 192")
    assert encoder.element("PatientName", "Trần^Hà", "ISO_IR 192") is first
    assert first[1] == encode_element("PatientName", "Trần^Hà", "ISO_IR 192")
    assert "Trần".encode() in first[1]


def test_values_equal_across_types_are_encoded_apart() -> None:
    encoder = ElementEncoder()
    assert encoder.element("WindowCenter", 0, "iso8859") is not encoder.element("WindowCenter", 0.0, "iso8859")


def test_ambiguous_vrs_are_refused() -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        encode_element("PixelData", b"\x00\x00", "iso8859")
    with pytest.raises(ValueError, match="unknown"):
        encode_element("NotAKeyword", "x", "iso8859")
