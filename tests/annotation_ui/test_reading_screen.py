"""The reading screen's configuration: image tools on both views, one key per value, the cross-view link."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from annotation_ui.hotkeys import RESERVED
from annotation_ui.labeling_config import INSTRUCTION, SAME_LESION, VIEWS, box_control, labeling_config
from annotation_ui.reads import group_result, parse_read
from annotation_ui.schema import DEFAULT_SCHEMA, build_schema
from tests.annotation_ui.test_validation import MAPPINGS, MASS, _problems
from tests.support.annotation_scenario import finding_items, side_items

ROOT = ET.fromstring(labeling_config(DEFAULT_SCHEMA))


def _keys(root: ET.Element) -> dict[tuple[str, str], str]:
    """(control name, value) -> hotkey, for every Label and Choice that has one."""
    keys = {}
    for control in root.iter():
        for option in control:
            if option.tag in ("Label", "Choice") and option.get("hotkey"):
                keys[(control.get("name", ""), option.get("value", ""))] = option.get("hotkey", "")
    return keys


@pytest.mark.parametrize("schema", [DEFAULT_SCHEMA, build_schema({"finding_types": ["mass", "calcification"]})])
def test_hotkeys_are_unique_and_leave_label_studios_own_alone(schema: object) -> None:
    keys = _keys(ET.fromstring(labeling_config(schema)))  # type: ignore[arg-type]
    duplicates = [k for k, n in Counter(keys.values()).items() if n > 1]
    assert duplicates == []  # Label Studio would bind both and warn "Key already added"
    assert not set(keys.values()) & RESERVED


def test_bi_rads_values_and_findings_have_their_own_keys_on_both_views() -> None:
    keys = _keys(ROOT)
    assert [keys[("assessment", c)] for c in "0123456"] == list("0123456")
    for finding in DEFAULT_SCHEMA.finding_types:
        cc, mlo = keys[(box_control("cc"), finding)], keys[(box_control("mlo"), finding)]
        assert mlo == f"shift+{cc}"
    assert keys[("cc_birads", "4")] == "e" and keys[("mlo_birads", "4")] == "shift+e"
    assert {keys[("composition", c)] for c in "abcd"} == set("abcd")


def test_both_views_zoom_with_brightness_and_contrast() -> None:
    images = list(ROOT.iter("Image"))
    assert [i.get("name") for i in images] == list(VIEWS)
    for image in images:
        for tool in ("zoom", "zoomControl", "brightnessControl", "contrastControl"):
            assert image.get(tool) == "true", (image.get("name"), tool)


def test_label_chips_come_before_their_image_and_attributes_sit_beside_the_images() -> None:
    reading = next(v for v in ROOT.iter("View") if v.get("className") == "sgm-reading")
    panels = [v.get("className") for v in reading]
    assert panels == ["sgm-view", "sgm-view", "sgm-column"]
    for panel in list(reading)[:2]:
        assert [c.tag for c in panel if c.tag != "Header"] == ["RectangleLabels", "Image"]
    column = list(reading)[2]
    per_region = {c.get("name") for c in column.iter("Choices") if c.get("perRegion") == "true"}
    assert {"cc_birads", "mlo_birads", "cc_calc_morphology", "mlo_mass_shape"} <= per_region


def test_the_instruction_says_how_to_link_the_two_boxes_of_a_lesion() -> None:
    assert "Alt+R" in INSTRUCTION and "MLO box" in INSTRUCTION
    assert any(h.get("value") == INSTRUCTION for h in ROOT.iter("Header"))


def _unlabelled_link(items: list[dict]) -> list[dict]:
    """The items as Label Studio saves a link drawn with Alt+R and no label picked: no `labels` key."""
    return [{k: v for k, v in i.items() if k != "labels"} if i.get("type") == "relation" else i for i in items]


def test_a_link_without_a_label_is_the_same_lesion_link() -> None:
    items = side_items("b", "4B") + _unlabelled_link(finding_items(MASS, MAPPINGS, "m"))
    assert group_result(items).relations == [("mcc", "mmlo", [SAME_LESION])]
    assert _problems(items) == []
    read = parse_read(items, MAPPINGS)
    assert len(read.findings) == 1 and set(read.findings[0].boxes) == {"cc", "mlo"}


def test_a_value_given_with_the_other_views_key_is_refused_by_name() -> None:
    items = side_items("b", "4B") + finding_items(MASS, MAPPINGS, "m")
    stray = {"id": "mmlo", "from_name": "cc_mass_density", "to_name": "cc", "type": "choices"}
    problems = _problems([*items, {**stray, "value": {"choices": ["high"]}}])
    assert problems == ["CC 'mass_density' given to MLO box mmlo"]


def test_every_label_and_choice_has_its_own_key_so_label_studio_invents_none() -> None:
    # Label Studio gives the first unkeyed values keys of its own (I, O, P, V on the CC panel: V is its move tool).
    schema = build_schema({"attributes": {"subtlety": {"values": ["1", "2", "3"]}}})
    root = ET.fromstring(labeling_config(schema))
    unkeyed = [e.get("value") for e in root.iter() if e.tag in ("Label", "Choice") and not e.get("hotkey")]
    assert unkeyed == []
    assert len(set(_keys(root).values())) == len(_keys(root))
