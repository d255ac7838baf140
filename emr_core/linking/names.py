"""Name normalisation and fuzzy comparison for Vietnamese names in registry and DICOM forms."""

from __future__ import annotations

import re
import unicodedata
from itertools import permutations

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

# DICOM PN separates components with '^' and groups (alphabetic=ideographic=phonetic) with '='.
_SEPARATORS = re.compile(r"[\s\^=,.;_\-/]+")
_MAX_PERMUTED_TOKENS = 5  # 5! = 120 alignments; longer names fall back to token_sort_ratio


def fold(text: str) -> str:
    """Lower-case and strip diacritics (NFD, drop combining marks, Đ→d)."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def name_tokens(name: str) -> list[str]:
    """Folded name components, whatever the separators (spaces or DICOM PN '^')."""
    if "=" in name:  # keep only the alphabetic PN group
        name = name.split("=", 1)[0]
    return [t for t in _SEPARATORS.split(fold(name)) if t]


def name_key(name: str) -> str:
    """Order-free comparison key: folded tokens, sorted, space-joined."""
    return " ".join(sorted(name_tokens(name)))


def token_edit_distance(key_a: str, key_b: str) -> int:
    """Fewest letter edits between two keys when their tokens are paired up optimally."""
    a, b = key_a.split(), key_b.split()
    if len(a) != len(b) or len(a) > _MAX_PERMUTED_TOKENS:
        return Levenshtein.distance(key_a, key_b)
    return min(sum(Levenshtein.distance(x, y) for x, y in zip(a, p, strict=True)) for p in permutations(b))


def _aligned_similarity(a: list[str], b: list[str], longest: int) -> float:
    """Best token pairing, scored by the worse of whole-name and mean per-token similarity."""
    best = 0.0
    for perm in permutations(b):
        dists = [Levenshtein.distance(x, y) for x, y in zip(a, perm, strict=True)]
        whole = 1.0 - sum(dists) / longest
        # Per token, so that "lan"/"mai" (2 edits in a 3-letter name) is not a typo.
        per_token = sum(1.0 - d / max(len(x), len(y)) for d, x, y in zip(dists, a, perm, strict=True)) / len(a)
        best = max(best, min(whole, per_token))
    return best


def name_similarity(key_a: str, key_b: str) -> float:
    """Similarity in [0, 1] of two name keys; 1.0 equal, ~0.9 one typo, ~0.78 another given name."""
    if not key_a or not key_b:
        return 0.0
    if key_a == key_b:
        return 1.0
    a, b = key_a.split(), key_b.split()
    if len(a) == len(b) <= _MAX_PERMUTED_TOKENS:
        return round(_aligned_similarity(a, b, max(len(key_a), len(key_b))), 4)
    # A missing or extra word (e.g. no middle name): order-free fuzzy ratio, slightly discounted.
    return round(fuzz.token_sort_ratio(key_a, key_b) / 100.0 * 0.95, 4)
