"""Name normalisation: diacritics, order, DICOM PN separators and typos."""

from __future__ import annotations

import pytest

from emr_core.linking.names import fold, name_key, name_similarity, name_tokens, token_edit_distance


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Nguyễn Thị Lan", "lan nguyen thi"),
        ("Nguyễn^Lan^Thị", "lan nguyen thi"),
        ("NGUYEN^LAN^THI", "lan nguyen thi"),
        ("Lan^Nguyen Thi", "lan nguyen thi"),
        ("Đặng Thu Thảo", "dang thao thu"),
        ("đỗ  thị   hằng", "do hang thi"),
        ("Trương^Ngọc^Bích=", "bich ngoc truong"),
        ("Huỳnh^Thị^Yến==", "huynh thi yen"),
        ("", ""),
    ],
)
def test_name_key_folds_case_diacritics_order_and_separators(raw: str, key: str) -> None:
    assert name_key(raw) == key


@pytest.mark.parametrize(
    ("raw", "folded"),
    [("Đinh", "dinh"), ("Thủy", "thuy"), ("Lý", "ly"), ("Hồ", "ho"), ("Dương", "duong")],
)
def test_fold_strips_vietnamese_marks(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_pn_ideographic_group_is_ignored() -> None:
    assert name_tokens("Nguyen^Lan^Thi=阮^蘭") == ["nguyen", "lan", "thi"]


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("Nguyễn Thị Lan", "NGUYEN^LAN^THI", 1.0, 1.0),  # ASCII, PN order
        ("Nguyễn Thị Lan", "Lan^Nguyen Thi", 1.0, 1.0),  # given name first
        ("Nguyễn Thị Lan", "Nguyen^Lam^Thi", 0.85, 0.95),  # one-letter typo
        ("Nguyễn Thị Lan", "Mguyen^Lan^Thi", 0.85, 0.95),  # typo that moves the sort order
        ("Đặng Thu Thảo", "Dang^Thap^Thu", 0.85, 0.95),
        ("Nguyễn Thị Lan", "Nguyen^Mai^Thi", 0.70, 0.80),  # another woman, same family+middle
        ("Nguyễn Thị Lan", "Tran^Huong^Ngoc", 0.0, 0.5),
        ("Nguyễn Thị Lan", "", 0.0, 0.0),
    ],
)
def test_name_similarity_tolerates_typos_not_other_names(a: str, b: str, low: float, high: float) -> None:
    assert low <= name_similarity(name_key(a), name_key(b)) <= high


def test_token_edit_distance_pairs_tokens_whatever_their_order() -> None:
    assert token_edit_distance(name_key("Mguyen Thi Lan"), name_key("Nguyen Thi Lan")) == 1
    assert token_edit_distance("a b", "a b c") == 2  # unequal counts: plain Levenshtein
