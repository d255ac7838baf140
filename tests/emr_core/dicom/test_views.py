"""Laterality and view normalisation, table-driven over every source a device may use."""

from __future__ import annotations

import pytest

from emr_core.dicom.views import Code, ViewInfo, parse_description, resolve_view

CASES = [
    # (header values, view codes, expected)
    ({"ImageLaterality": "L", "ViewPosition": "CC"}, [],
     ViewInfo("L", "ImageLaterality", "CC", "ViewPosition")),
    ({"ImageLaterality": "r", "Laterality": "L"}, [Code("R-10226", "SRT")],
     ViewInfo("R", "ImageLaterality", "MLO", "ViewCodeSequence")),
    ({"Laterality": "L"}, [Code("399162004", "SCT")],
     ViewInfo("L", "Laterality", "CC", "ViewCodeSequence")),
    ({"ImageLaterality": "B"}, [Code("R-1024A", "SRT")],
     ViewInfo("B", "ImageLaterality", "XCCL", "ViewCodeSequence")),
    ({"ImageLaterality": "U", "SeriesDescription": "RMLO"}, [],
     ViewInfo("R", "SeriesDescription", "MLO", "SeriesDescription")),
    ({"SeriesDescription": "LEFT MLO"}, [],
     ViewInfo("L", "SeriesDescription", "MLO", "SeriesDescription")),
    ({"SeriesDescription": "Bilateral screening", "ImageComments": "R CC"}, [],
     ViewInfo("R", "ImageComments", "CC", "ImageComments")),
    ({"ProtocolName": "L-XCCL"}, [], ViewInfo("L", "ProtocolName", "XCCL", "ProtocolName")),
    ({"ViewPosition": "mlo", "SeriesDescription": "L CC"}, [],
     ViewInfo("L", "SeriesDescription", "MLO", "ViewPosition")),
    ({"ViewPosition": "AP"}, [Code("9999", "99X", "medio-lateral oblique")],
     ViewInfo(None, None, "MLO", "ViewCodeSequence")),
    ({"ViewPosition": "AP"}, [], ViewInfo()),
    ({}, [Code("399260004")], ViewInfo(None, None, "ML", "ViewCodeSequence")),
    ({}, [Code("R-10228")], ViewInfo(None, None, "LM", "ViewCodeSequence")),
    ({}, [Code("R-10230")], ViewInfo(None, None, "LMO", "ViewCodeSequence")),
    ({}, [Code("Y-X1771")], ViewInfo(None, None, "XCCM", "ViewCodeSequence")),
    ({}, [], ViewInfo()),
]  # fmt: skip


@pytest.mark.parametrize(("values", "codes", "expected"), CASES)
def test_resolve_view(values: dict[str, str], codes: list[Code], expected: ViewInfo) -> None:
    assert resolve_view(values, codes) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("L CC", ("L", "CC")),
        ("RMLO", ("R", "MLO")),
        ("LEFT MLO", ("L", "MLO")),
        ("R_XCCL", ("R", "XCCL")),
        ("rt cranio-caudal", ("R", "CC")),
        ("Left medio-lateral oblique", ("L", "MLO")),
        ("LM", (None, "LM")),
        ("RLM", ("R", "LM")),
        ("Bilateral Screening", (None, None)),
        ("CLEAR", (None, None)),
        ("", (None, None)),
    ],
)
def test_parse_description(text: str, expected: tuple[str | None, str | None]) -> None:
    assert parse_description(text) == expected
