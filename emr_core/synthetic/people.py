"""Synthetic Vietnamese persons, names and name variants."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

REFERENCE_DATE = date(2026, 6, 30)

# Weights follow the rough frequency of Vietnamese family names (Nguyễn ~38%).
FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 5.1),
    ("Huỳnh", 5.0),
    ("Phan", 4.5),
    ("Vũ", 3.9),
    ("Võ", 3.5),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Trương", 1.0),
    ("Đinh", 0.8),
    ("Lâm", 0.6),
    ("Mai", 0.5),
)
MIDDLE_NAMES: tuple[tuple[str, float], ...] = (
    ("Thị", 70.0),
    ("Ngọc", 6.0),
    ("Thu", 5.0),
    ("Minh", 4.0),
    ("Kim", 4.0),
    ("Thanh", 4.0),
    ("Bích", 2.0),
    ("Hồng", 2.0),
    ("Mỹ", 1.5),
    ("Phương", 1.5),
)
GIVEN_NAMES: tuple[str, ...] = (
    "Lan",
    "Hương",
    "Mai",
    "Hoa",
    "Thảo",
    "Trang",
    "Ngọc",
    "Linh",
    "Hạnh",
    "Phương",
    "Yến",
    "Hằng",
    "Nga",
    "Thủy",
    "Hà",
    "Loan",
    "Dung",
    "Nhung",
    "Tuyết",
    "Oanh",
    "Vân",
    "Liên",
    "Huệ",
    "Cúc",
    "Nhàn",
    "Thúy",
    "Xuân",
    "Hiền",
    "Quyên",
    "Diệp",
)


@dataclass(frozen=True)
class VietName:
    """A Vietnamese name split into family, middle and given parts."""

    family: str
    middle: str
    given: str

    @property
    def full(self) -> str:
        """Native order, e.g. 'Nguyễn Thị Lan'."""
        return " ".join(p for p in (self.family, self.middle, self.given) if p)


@dataclass(frozen=True)
class Person:
    """A synthetic woman; registry fields are empty when she is not in the registry."""

    person_id: str
    name: VietName
    birth_date: date
    sex: str
    registry_patient_id: str
    registry_issuer: str
    pacs_id: str


def ascii_fold(text: str) -> str:
    """Strip Vietnamese diacritics: NFD, drop combining marks, map Đ/đ to D/d."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _weighted(rng: np.random.Generator, table: tuple[tuple[str, float], ...]) -> str:
    """Pick one entry from a (value, weight) table."""
    weights = np.array([w for _, w in table])
    return table[int(rng.choice(len(table), p=weights / weights.sum()))][0]


def random_name(rng: np.random.Generator) -> VietName:
    """Draw a plausible female Vietnamese name."""
    given = GIVEN_NAMES[int(rng.integers(len(GIVEN_NAMES)))]
    middle = _weighted(rng, MIDDLE_NAMES)
    if middle == given:  # "Ngọc Ngọc" does not occur
        middle = "Thị"
    return VietName(_weighted(rng, FAMILY_NAMES), middle, given)


def random_birth_date(rng: np.random.Generator) -> date:
    """Screening-age birth date: 40 to 74 years before the reference date."""
    age_days = int(rng.integers(40 * 365, 75 * 365))
    return REFERENCE_DATE - timedelta(days=age_days)


def typo(text: str, rng: np.random.Generator) -> str:
    """Replace one letter of a word by a neighbouring letter (a keying error)."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    i = letters[int(rng.integers(len(letters)))]
    base = ascii_fold(text[i]).lower() or "a"
    alphabet = "abcdeghiklmnopqrstuvxy"
    j = (alphabet.find(base) + 1 + int(rng.integers(3))) % len(alphabet)
    repl = alphabet[j].upper() if text[i].isupper() else alphabet[j]
    return text[:i] + repl + text[i + 1 :]


def shifted_birth_date(original: date, rng: np.random.Generator) -> date:
    """A wrong birth date as typed at the modality (day/month or year slip)."""
    if rng.random() < 0.5 and original.day <= 12 and original.day != original.month:
        return original.replace(day=original.month, month=original.day)
    years = int(rng.choice([-1, 1]))
    return original.replace(year=original.year + years, day=min(original.day, 28))
