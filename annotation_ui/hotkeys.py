"""Keyboard shortcuts of the reading screen: one key per value, unique across the config, none of Label Studio's.

CC controls take the plain key, MLO controls the same key with Shift, so a reader learns one layout for both
views. The side's assessment takes the digit of its BI-RADS category. Label Studio itself binds R (rectangle),
V (move), H (pan), U (unselect), Shift+1/Shift+2 (zoom), Alt+R (relation) and Ctrl/Cmd combinations; Chrome on
Linux keeps Alt+digit and Ctrl+digit (tabs). None of ours is among them.
"""

from __future__ import annotations

FINDING_KEYS: dict[str, str] = {
    "mass": "m",
    "calcification": "k",  # c is composition c
    "asymmetry": "y",
    "global asymmetry": "g",
    "focal asymmetry": "f",
    "developing asymmetry": "n",  # new
    "architectural distortion": "t",
    "intramammary lymph node": "l",
}
ASSESSMENT_KEYS: dict[str, str] = {c: c for c in "0123456"}
ASSESSMENT_SUBTYPE_KEYS: dict[str, str] = {"A": "7", "B": "8", "C": "9"}  # 4A/4B/4C right of the digits
COMPOSITION_KEYS: dict[str, str] = {c: c for c in "abcd"}
BOX_BIRADS_KEYS: dict[str, str] = {"2": "q", "3": "w", "4": "e", "5": "s"}
BOX_SUBTYPE_KEYS: dict[str, str] = {"A": "z", "B": "x", "C": "j"}

# Taken by Label Studio 1.23 on an image with rectangles, or by the browser (see the module docstring).
RESERVED: frozenset[str] = frozenset(
    {"r", "v", "h", "u", "shift+1", "shift+2", "alt+r", "backspace", "delete", "escape", "enter"}
)


def view_key(view: str, key: str) -> str:
    """The key of a per-view control: plain on CC, with Shift on MLO."""
    return key if view == "cc" else f"shift+{key}"
