"""The BI-RADS schema, site configuration errors, and the labeling config generated from it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from annotation_ui.labeling_config import labeling_config
from annotation_ui.schema import DEFAULT_SCHEMA, SchemaConfigError, build_schema, load_schema_config
from tests.support.lsenv import LabelStudioEnv


def test_default_schema_covers_the_lexicon() -> None:
    assert {"mass", "calcification", "focal asymmetry", "architectural distortion", "intramammary lymph node"} <= set(
        DEFAULT_SCHEMA.finding_types
    )
    assert [a.name for a in DEFAULT_SCHEMA.attributes_for("mass") if a.required] == ["mass_shape", "mass_margin"]
    assert "fine linear branching" in DEFAULT_SCHEMA.attribute("calc_morphology").values


def test_config_restricts_and_adds(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(
        "finding_types: [mass, calcification]\n"
        "attributes:\n"
        "  mass_density: {required: true}\n"
        "  calc_distribution: {values: [grouped, linear]}\n"
        "  subtlety: {values: ['1', '2', '3'], applies_to: [mass], required: true}\n"
    )
    schema = build_schema(load_schema_config(path))
    assert schema.finding_types == ("mass", "calcification")
    assert schema.attribute("mass_density").required
    assert schema.attribute("calc_distribution").values == ("grouped", "linear")
    assert schema.attribute("subtlety").applies_to == ("mass",)
    xml = labeling_config(schema)
    assert 'name="cc_subtlety"' in xml and "focal asymmetry" not in xml


@pytest.mark.parametrize(
    "config, key",
    [
        ({"finding_types": ["mass", "blob"]}, "finding_types"),
        ({"attributes": {"mass_shape": {"values": ["square"]}}}, "attributes.mass_shape.values"),
        ({"attributes": {"mass_shape": {"title": "x"}}}, "attributes.mass_shape"),
        ({"attributes": {"subtlety": {"values": []}}}, "attributes.subtlety.values"),
        ({"attributes": {"subtlety": {"values": ["1"], "applies_to": ["tumour"]}}}, "attributes.subtlety.applies_to"),
        ({"attributes": {"mass_density": {"required": "yes"}}}, "attributes.mass_density.required"),
        ({"colour": "red"}, "unknown key"),
    ],
)
def test_config_errors_name_the_key(config: dict, key: str) -> None:
    with pytest.raises(SchemaConfigError, match=key.replace(".", r"\.")):
        build_schema(config)


def test_labeling_config_shape() -> None:
    root = ET.fromstring(labeling_config(DEFAULT_SCHEMA))
    images = [e.get("name") for e in root.iter("Image")]
    assert images == ["cc", "mlo"]
    assert [e.get("toName") for e in root.iter("RectangleLabels")] == ["cc", "mlo"]
    assert [e.get("value") for e in root.iter("Relation")] == ["same_lesion"]
    per_region = {e.get("name") for e in root.iter("Choices") if e.get("perRegion") == "true"}
    assert {"cc_mass_shape", "mlo_mass_shape", "cc_birads", "mlo_birads_subtype"} <= per_region
    side = {e.get("name"): [c.get("value") for c in e] for e in root.iter("Choices") if e.get("perRegion") != "true"}
    assert side["composition"] == list("abcd") and side["assessment"] == list("0123456")


def test_label_studio_accepts_the_generated_config(label_studio: LabelStudioEnv) -> None:
    xml = labeling_config(build_schema({"attributes": {"subtlety": {"values": ["1", "2"]}}}))
    project_id = label_studio.admin.create_project("schema check", xml)
    stored = label_studio.admin.get(f"/api/projects/{project_id}")
    assert "same_lesion" in stored["label_config"] and stored["parsed_label_config"]["cc_finding"]["to_name"] == ["cc"]


def test_per_box_attributes_show_for_boxes_of_their_view() -> None:
    # Label Studio matches whenTagName against the box's RectangleLabels control; naming the
    # image instead hid every per-box attribute from the radiologist (seen in a browser).
    import xml.etree.ElementTree as ET

    from annotation_ui.labeling_config import box_control, labeling_config
    from annotation_ui.schema import build_schema

    root = ET.fromstring(labeling_config(build_schema(None)))
    controls = {el.get("name") for el in root.iter("RectangleLabels")}
    assert controls == {box_control("cc"), box_control("mlo")}
    gated = [v for v in root.iter("View") if v.get("visibleWhen") == "region-selected"]
    assert gated, "per-box attributes must appear when a box is selected"
    for view in gated:
        choices = view.find("Choices")
        assert choices is not None
        assert view.get("whenTagName") == box_control(choices.get("toName", ""))
