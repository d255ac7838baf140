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


# Label Studio gives every Label and Choice without a hotkey one of its own, from a fixed list, in the order of
# the config: the CC panel's attributes got I, O, P and V (its move tool) and the MLO panel none. Every
# descriptor value therefore gets an explicit chord nobody types by accident; the reading screen hides them.
_CHORD_KEYS = "abcdefghijklmnopqrstuvwxyz0123456789"
_CHORD_PREFIXES = {"cc": ("ctrl+alt+", "ctrl+alt+shift+"), "mlo": ("alt+shift+", "ctrl+shift+alt+meta+")}


def descriptor_key(view: str, index: int) -> str:
    """The placeholder chord of the `index`-th descriptor value of one view (unique per view and index)."""
    prefixes = _CHORD_PREFIXES[view]
    block, position = divmod(index, len(_CHORD_KEYS))
    if block >= len(prefixes):
        raise ValueError(f"more than {len(prefixes) * len(_CHORD_KEYS)} descriptor values on {view.upper()}")
    return prefixes[block] + _CHORD_KEYS[position]
