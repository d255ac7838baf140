"""Vietnamese names, ASCII folding and typo helpers."""

from __future__ import annotations

from datetime import date

import numpy as np

from emr_core.synthetic.people import ascii_fold, random_name, shifted_birth_date, typo


def test_ascii_fold_strips_vietnamese_diacritics() -> None:
    assert ascii_fold("Nguyễn Thị Hương") == "Nguyen Thi Huong"
    assert ascii_fold("Đặng Thủy") == "Dang Thuy"
    assert ascii_fold("đỗ") == "do"


def test_typo_changes_exactly_one_character() -> None:
    rng = np.random.default_rng(1)
    for word in ("Lan", "Nguyễn", "Hương", "Thảo"):
        changed = typo(word, rng)
        assert len(changed) == len(word)
        assert sum(a != b for a, b in zip(changed, word, strict=False)) == 1


def test_random_names_are_native_order_with_diacritics() -> None:
    rng = np.random.default_rng(2)
    names = [random_name(rng) for _ in range(200)]
    assert sum(n.family == "Nguyễn" for n in names) > 40
    assert all(n.full == f"{n.family} {n.middle} {n.given}" for n in names)
    assert any(n.full != ascii_fold(n.full) for n in names)


def test_shifted_birth_date_differs() -> None:
    rng = np.random.default_rng(3)
    for d in (date(1970, 3, 4), date(1980, 12, 31), date(1964, 2, 29)):
        assert shifted_birth_date(d, rng) != d
