"""Header-only indexing: every field, character sets, truncation and bad input."""

from __future__ import annotations

import builtins
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian

from emr_core.dicom import header as header_module
from emr_core.dicom.header import PREFIX_BYTES, HeaderError, InstanceHeader, read_header
from emr_core.enums import QuarantineReason
from tests.support.dicom_factory import code_item, ct_dataset, mg_dataset, write, write_mg


def _header(path: Path) -> InstanceHeader:
    result = read_header(path)
    assert isinstance(result, InstanceHeader), result
    return result


def test_reads_every_indexed_field(tmp_path: Path) -> None:
    ds = mg_dataset(rows=40, columns=30)
    h = _header(write(tmp_path / "a.dcm", ds))
    assert (h.study_uid, h.series_uid, h.sop_instance_uid) == (
        ds.StudyInstanceUID,
        ds.SeriesInstanceUID,
        ds.SOPInstanceUID,
    )
    assert h.sop_class_uid == "1.2.840.10008.5.1.4.1.1.1.2"
    assert h.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert (h.modality, h.accession_number, h.study_date) == ("MG", "ACC1", date(2024, 3, 15))
    assert (h.study_description, h.series_number, h.series_description) == (
        "MAMMO SCREEN",
        3,
        "L CC",
    )
    assert (h.patient_id, h.issuer_of_patient_id, h.patient_name) == (
        "P1",
        "HOSP",
        "Nguyễn^Lan^Thị",
    )
    assert (h.patient_birth_date, h.patient_sex, h.manufacturer) == (date(1970, 1, 2), "F", "ACME")
    assert (h.photometric_interpretation, h.rows, h.columns) == ("MONOCHROME1", 40, 30)
    assert (h.pixel_spacing_row, h.pixel_spacing_col) == (0.07, 0.065)
    assert (h.laterality, h.laterality_source) == ("L", "ImageLaterality")
    assert (h.view, h.view_source) == ("CC", "ViewCodeSequence")
    assert h.is_mammogram


def test_pixel_spacing_wins_over_imager_pixel_spacing(tmp_path: Path) -> None:
    h = _header(write_mg(tmp_path / "a.dcm", PixelSpacing=[0.05, 0.06]))
    assert (h.pixel_spacing_row, h.pixel_spacing_col) == (0.05, 0.06)


def test_latin1_name_and_implicit_vr(tmp_path: Path) -> None:
    ds = mg_dataset(SpecificCharacterSet="ISO_IR 100", PatientName="Müller^Anna")
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    h = _header(write(tmp_path / "a.dcm", ds))
    assert (h.patient_name, h.rows, h.transfer_syntax_uid) == (
        "Müller^Anna",
        64,
        ImplicitVRLittleEndian,
    )
    assert h.view == "CC"


def test_deflated_file(tmp_path: Path) -> None:
    ds = mg_dataset()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    h = _header(write(tmp_path / "a.dcm", ds))
    assert (h.sop_instance_uid, h.patient_name) == (ds.SOPInstanceUID, "Nguyễn^Lan^Thị")


@pytest.mark.parametrize(
    ("overrides", "mammogram"),
    [
        ({}, True),
        ({"Modality": "OT"}, True),  # a mammography SOP class with an odd modality
        ({"SOPClassUID": "1.2.840.10008.5.1.4.1.1.7", "Modality": "MG"}, True),
    ],
)
def test_is_mammogram(tmp_path: Path, overrides: dict[str, str], mammogram: bool) -> None:
    assert _header(write_mg(tmp_path / "a.dcm", **overrides)).is_mammogram is mammogram


def test_ct_is_not_mammogram(tmp_path: Path) -> None:
    h = _header(write(tmp_path / "ct.dcm", ct_dataset()))
    assert (h.modality, h.is_mammogram, h.laterality, h.view) == ("CT", False, None, None)


@pytest.mark.parametrize(
    ("codes", "view"),
    [
        ([code_item("R-10226", "SRT", "medio-lateral oblique")], "MLO"),
        ([code_item("G-8310", "SRT", "tissue specimen from breast")], "SPECIMEN"),
        ([code_item("XYZ", "99LOCAL", "cranio-caudal exaggerated laterally")], "XCCL"),
    ],
)
def test_view_code_sequence(tmp_path: Path, codes: list, view: str) -> None:
    from pydicom.sequence import Sequence

    h = _header(write_mg(tmp_path / "a.dcm", ViewCodeSequence=Sequence(codes), ViewPosition=None))
    assert (h.view, h.view_source) == (view, "ViewCodeSequence")


class _CountingFile:
    """Wraps a binary file and counts the bytes read through it."""

    total = 0

    def __init__(self, fp: Any) -> None:
        self._fp = fp

    def read(self, n: int = -1) -> bytes:
        data = self._fp.read(n)
        _CountingFile.total += len(data)
        return data

    def __getattr__(self, name: str) -> object:
        return getattr(self._fp, name)

    def __enter__(self) -> _CountingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fp.close()


@pytest.mark.parametrize("private_bytes", [0, 3 * PREFIX_BYTES])
def test_never_reads_pixel_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_bytes: int) -> None:
    ds = mg_dataset(rows=1024, columns=1024)  # 2 MB of pixel data
    if private_bytes:  # a header longer than the first read: parsed from the file, still no pixels
        block = ds.private_block(0x0029, "ACME", create=True)
        block.add_new(0x10, "OB", b"\1" * private_bytes)
    path = write(tmp_path / "big.dcm", ds)
    _CountingFile.total = 0
    monkeypatch.setattr(header_module, "open", lambda p, m: _CountingFile(builtins.open(p, m)), raising=False)  # noqa: SIM115 - the reader closes it
    h = _header(path)
    assert h.rows == 1024 and h.patient_name == "Nguyễn^Lan^Thị"
    assert _CountingFile.total < private_bytes + PREFIX_BYTES + 4096 < 2 * 1024 * 1024


def _cut(tmp_path: Path, size: int) -> Path:
    data = write_mg(tmp_path / "full.dcm").read_bytes()
    cut = tmp_path / f"cut{size}.dcm"
    cut.write_bytes(data[: size if size >= 0 else len(data) + size])
    return cut


@pytest.mark.parametrize("size", [132, 200, 330, 420, 600, 900, -1, -3000])
def test_truncated_files(tmp_path: Path, size: int) -> None:
    result = read_header(_cut(tmp_path, size))
    assert isinstance(result, HeaderError) and result.reason == QuarantineReason.TRUNCATED, result


@pytest.mark.parametrize("content", [b"", b"hello world\n", b"\0" * 2000, b"%PDF-1.4\n" * 50])
def test_not_dicom(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    result = read_header(path)
    assert isinstance(result, HeaderError) and result.reason == QuarantineReason.NOT_DICOM


@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"])
def test_missing_uid(tmp_path: Path, keyword: str) -> None:
    result = read_header(write_mg(tmp_path / "a.dcm", **{keyword: None}))
    assert isinstance(result, HeaderError) and result.reason == QuarantineReason.MISSING_UID
    assert keyword in result.detail


@pytest.mark.filterwarnings("ignore:The value length")
def test_uid_too_long_is_refused(tmp_path: Path) -> None:
    result = read_header(write_mg(tmp_path / "a.dcm", StudyInstanceUID="1." + "2" * 70))
    assert isinstance(result, HeaderError) and result.reason == QuarantineReason.MISSING_UID


def test_file_meta_without_group_length(tmp_path: Path) -> None:
    ds = mg_dataset()
    path = write(tmp_path / "a.dcm", ds)
    data = path.read_bytes()
    assert data[132:136] == b"\x02\x00\x00\x00"  # (0002,0000) comes first: drop its 12 bytes
    path.write_bytes(data[:132] + data[144:])
    assert _header(path).sop_instance_uid == ds.SOPInstanceUID


def test_unknown_view_code_falls_back_to_its_meaning_in_an_implicit_file(tmp_path: Path) -> None:
    from pydicom.sequence import Sequence

    ds = mg_dataset(ViewCodeSequence=Sequence([code_item("L-1", "99X", "medio-lateral")]), ViewPosition=None)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    assert _header(write(tmp_path / "a.dcm", ds)).view == "ML"


def test_header_from_bytes_matches_the_file(tmp_path: Path) -> None:
    from emr_core.dicom.header import read_header_bytes

    path = write_mg(tmp_path / "a.dcm")
    data = path.read_bytes()
    from_bytes = read_header_bytes(data, name=str(path))
    assert from_bytes == _header(path)
    cut = read_header_bytes(data[:-10])
    assert isinstance(cut, HeaderError) and cut.reason == QuarantineReason.TRUNCATED


def test_undefined_length_sequence_across_the_first_read(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    items = []
    for n in range(400):  # ~40 bytes each: the sequence runs past PREFIX_BYTES
        item = Dataset()
        item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = "1.2.3", f"1.2.3.{n}"
        items.append(item)
    ds = mg_dataset(ReferencedImageSequence=Sequence(items))
    ds["ReferencedImageSequence"].is_undefined_length = True
    for item in ds.ReferencedImageSequence:
        item.is_undefined_length_sequence_item = True
    path = write(tmp_path / "a.dcm", ds)
    assert path.stat().st_size > PREFIX_BYTES
    h = _header(path)
    assert (h.sop_instance_uid, h.view, h.rows) == (ds.SOPInstanceUID, "CC", 64)


@pytest.mark.parametrize(
    ("element", "implicit", "reason"),
    [
        (b"\x08\x00\x01\x00ZZ\x04\x00ABCD", False, QuarantineReason.UNKNOWN_VR),
        (b"\x08\x00\x01\x00\x04\x00\x00\x00ABCD", False, QuarantineReason.IMPLICIT_VR_IN_EXPLICIT),
        (b"\x02\x00\x13\x00SH\x04\x00EVIL", False, QuarantineReason.FILE_META_IN_DATASET),
        (b"\x02\x00\x13\x00\x04\x00\x00\x00EVIL", True, QuarantineReason.FILE_META_IN_DATASET),  # was "truncated"
        (b"\x08\x00\x60\x00XY\x02\x00MG", False, QuarantineReason.UNKNOWN_VR),  # an indexed tag, pydicom raised
    ],
)
def test_malformed_encodings_get_their_own_reason(
    tmp_path: Path, element: bytes, implicit: bool, reason: QuarantineReason
) -> None:
    ds = mg_dataset(Modality=None) if element[:4] == b"\x08\x00\x60\x00" else mg_dataset()
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    raw = write(tmp_path / "a.dcm", ds).read_bytes()
    start = 144 + int.from_bytes(raw[140:144], "little")
    if element[:4] == b"\x08\x00\x60\x00":  # (0008,0060) belongs after (0008,0050): keep tag order
        start = raw.index(b"\x08\x00\x70\x00", start)
    (tmp_path / "b.dcm").write_bytes(raw[:start] + element + raw[start:])
    result = read_header(tmp_path / "b.dcm")
    assert isinstance(result, HeaderError) and result.reason == reason, result


def test_meta_naming_another_instance_is_reported(tmp_path: Path) -> None:
    from emr_core.dicom.header import meta_mismatch
    from tests.support.dicom_factory import meta_names_other_instance

    path = meta_names_other_instance(write_mg(tmp_path / "a.dcm"))
    problem = meta_mismatch(_header(path))
    assert problem is not None and "SOP Instance UID" in problem
    assert meta_mismatch(_header(write_mg(tmp_path / "b.dcm"))) is None
