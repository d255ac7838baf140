"""Image synthesis: outline, inversion, lesion boxes."""

from __future__ import annotations

import numpy as np

from emr_core.synthetic import pixels


def _shape() -> pixels.BreastShape:
    return pixels.BreastShape(0.7, 0.5, 0.4, 0.4, 0.0, 0.0)


def test_left_breast_touches_left_edge_and_right_is_mirrored() -> None:
    rng = np.random.default_rng(0)
    left = pixels.render_signal(_shape(), "L", 160, 128, "b", (), rng)
    right = pixels.render_signal(_shape(), "R", 160, 128, "b", (), rng)
    assert left[80, :10].mean() > 0.2 > left[80, -10:].mean()
    assert right[80, -10:].mean() > 0.2 > right[80, :10].mean()


def test_monochrome1_is_inverted_within_bits_stored() -> None:
    rng = np.random.default_rng(0)
    signal = pixels.render_signal(_shape(), "L", 160, 128, "c", (), rng)
    mono2 = pixels.to_stored(signal.copy(), "MONOCHROME2", 14)
    mono1 = pixels.to_stored(signal.copy(), "MONOCHROME1", 12)
    assert mono2.max() <= 2**14 - 1 and mono1.max() <= 2**12 - 1
    assert mono2[80, 5] > mono2[80, -5]  # breast brighter than air
    assert mono1[80, 5] < mono1[80, -5]  # stored inverted


def test_lesion_box_contains_centre_and_stays_in_image() -> None:
    mass = pixels.Mass(20.0, 30.0, 6.0, 1.5, 0.3, ((3, 0.15, 1.0),), 10, 1.0, 0.3, False)
    calc = pixels.CalcCluster(((120.0, 150.0), (126.0, 158.0)), 0.8, True, 0.5, 0.3)
    for lesion, (cx, cy) in ((mass, (20, 30)), (calc, (123, 154))):
        x0, y0, x1, y1 = pixels.lesion_box(lesion, 160, 128)
        assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 160
        if lesion is mass:
            assert x0 <= cx < x1 and y0 <= cy < y1


def test_lesion_is_drawn_inside_its_box() -> None:
    mass = pixels.Mass(40.0, 80.0, 6.0, 1.0, 0.0, (), 0, 1.0, 0.3, False)
    rng = np.random.default_rng(5)
    with_mass = pixels.render_signal(_shape(), "L", 160, 128, "a", (mass,), np.random.default_rng(5))
    without = pixels.render_signal(_shape(), "L", 160, 128, "a", (), rng)
    x0, y0, x1, y1 = pixels.lesion_box(mass, 160, 128)
    diff = with_mass - without
    assert diff[y0:y1, x0:x1].sum() > 0.99 * diff.sum() > 0
