"""Dataset suite over a training manifest: no patient in two splits, zero PHI, class balance reported."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Sequence
from typing import Any

import pandas as pd

from quality.results import SuiteResult
from quality.spec import Rule, Suite, SuiteError, in_set, not_null

SPLITS = ("train", "val", "test")
# Shorter strings (a sex code, initials) would match everywhere and prove nothing.
MIN_PHI_LENGTH = 3


def dataset_suite(
    phi: Collection[str],
    text_columns: Sequence[str],
    patient_column: str = "patient",
    split_column: str = "split",
    splits: Collection[str] = SPLITS,
) -> Suite:
    """Build the dataset suite (blocking); the text columns are scanned for the PHI strings and never shown."""
    needles = _needles(phi)
    return Suite(
        name="dataset",
        key_columns=(patient_column, split_column),
        hidden_columns=frozenset(text_columns),
        prepare=lambda frame: _prepare(frame, needles, text_columns, patient_column, split_column),
        rules=(
            not_null(patient_column, "every row has a patient pseudonym"),
            in_set(split_column, splits, f"split is one of {', '.join(splits)}"),
            Rule(
                "no patient in two splits",
                "ExpectColumnValuesToBeBetween",
                {"column": "patient_split_count", "min_value": 1, "max_value": 1},
                ("patient_splits",),
            ),
            Rule("zero PHI in the text columns", "ExpectColumnValuesToBeNull", {"column": "phi_found_in"}),
        ),
    )


def validate_dataset(
    manifest: pd.DataFrame,
    phi: Collection[str],
    text_columns: Sequence[str],
    label_columns: Sequence[str],
    patient_column: str = "patient",
    split_column: str = "split",
) -> SuiteResult:
    """Run the dataset suite over a manifest and report its class balance per split."""
    from quality.runner import validate

    suite = dataset_suite(phi, text_columns, patient_column, split_column)
    return validate(suite, manifest, report={"class_balance": class_balance(manifest, label_columns, split_column)})


def class_balance(manifest: pd.DataFrame, label_columns: Sequence[str], split_column: str = "split") -> dict[str, Any]:
    """For each label column: split -> label value -> row count (missing labels counted as '(none)')."""
    balance: dict[str, Any] = {}
    for column in label_columns:
        counts = manifest.fillna({column: "(none)"}).groupby([split_column, column]).size()
        table: dict[str, dict[str, int]] = {}
        for (split, label), count in counts.items():
            table.setdefault(str(split), {})[str(label)] = int(count)
        balance[column] = table
    return balance


def normalise(text: str) -> str:
    """Casefolded, without diacritics, whitespace collapsed: 'Nguyễn  Thị' and 'nguyen thi' match."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", bare).casefold().strip()


def _needles(phi: Collection[str]) -> re.Pattern[str] | None:
    """One pattern for every PHI string: scanning stays linear in the manifest however many patients it holds."""
    needles = sorted({n for n in (normalise(p) for p in phi) if len(n) >= MIN_PHI_LENGTH})
    return re.compile(_trie_pattern(needles)) if needles else None


def _trie_pattern(words: list[str]) -> str:
    """A regular expression matching any of `words`, shaped as their prefix tree (Python's re does not do this)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        if "" in node:  # a whole word ends here: for a search, the longer ones add nothing
            return ""
        alternatives = [re.escape(ch) + emit(child) for ch, child in sorted(node.items())]
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return emit(trie)


def _prepare(
    frame: pd.DataFrame,
    needles: re.Pattern[str] | None,
    text_columns: Sequence[str],
    patient_column: str,
    split_column: str,
) -> pd.DataFrame:
    missing = [c for c in (patient_column, split_column, *text_columns) if c not in frame.columns]
    if missing:
        raise SuiteError(f"suite dataset: manifest lacks column(s) {missing}")
    splits = frame.groupby(patient_column)[split_column].agg(lambda s: sorted(set(s.dropna().astype(str))))
    frame["patient_splits"] = frame[patient_column].map(lambda p: ", ".join(splits.get(p, [])))
    frame["patient_split_count"] = frame[patient_column].map(lambda p: len(splits.get(p, [])))
    frame["phi_found_in"] = [_phi_columns(row, needles) for row in frame[list(text_columns)].to_dict("records")]
    return frame


def _phi_columns(row: dict[str, Any], needles: re.Pattern[str] | None) -> str | None:
    """The names of the columns holding a PHI string (never the string itself), None when clean."""
    if needles is None:
        return None
    hits = [c for c, v in row.items() if isinstance(v, str) and needles.search(normalise(v))]
    return ", ".join(hits) or None
