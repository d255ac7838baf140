"""Label Studio labeling configuration (XML) generated from the BI-RADS schema."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from annotation_ui.hotkeys import (
    ASSESSMENT_KEYS,
    ASSESSMENT_SUBTYPE_KEYS,
    BOX_BIRADS_KEYS,
    BOX_SUBTYPE_KEYS,
    COMPOSITION_KEYS,
    FINDING_KEYS,
    descriptor_key,
    view_key,
)
from annotation_ui.schema import Attribute, Schema
from emr_core.vocabulary.birads import (
    ASSESSMENT_CATEGORIES,
    ASSESSMENT_SUBTYPES,
    FINDING_CATEGORIES,
    Composition,
    values,
)
from emr_core.vocabulary.dicom import SCREENING_VIEWS

VIEWS = tuple(v.lower() for v in SCREENING_VIEWS)  # ("cc", "mlo"), also the task data keys of the image URLs
SAME_LESION = "same_lesion"
COMPOSITION, ASSESSMENT, ASSESSMENT_SUBTYPE = "composition", "assessment", "assessment_subtype"
BIRADS, BIRADS_SUBTYPE = "birads", "birads_subtype"

# Reading renders keep the detector's pixels (3328x4096 and 2560x3328 FFDM, and most others, are not reduced):
# calcifications are 0.1-0.5 mm, one to five pixels at 0.07-0.1 mm spacing, and halving the long side merges
# them. Measured on a loaded 2-core machine (synthetic 3328x4096): 1024 -> 0.95 s and 0.15 MB, 2048 -> 1.3 s and
# 0.7 MB, 4096 -> 2.3 s and 4.3 MB per image, rendered once per image and cached; Label Studio zooms client-side.
READING_LONG_SIDE = 4096
# Zoom with the wheel and the toolbar, brightness and contrast (windowing of the 8-bit render) on both views;
# the image keeps to the screen's height so the label chips above it and the column beside it stay in sight.
IMAGE_TOOLS = (
    'zoom="true" zoomControl="true" brightnessControl="true" contrastControl="true" rotateControl="false" '
    'maxHeight="calc(100vh - 330px)" horizontalAlignment="center"'
)
INSTRUCTION = (
    "Pick a finding (key in brackets; Shift+key on MLO) and draw its box on CC and on MLO. Same lesion on both "
    "views: select its CC box, press Alt+R (or the link button in the region panel), then click its MLO box; "
    "the link needs no label. Wheel: zoom; toolbar: brightness and contrast."
)
STYLE = (
    ".sgm-top{display:flex;gap:1.5em;align-items:baseline}"
    ".sgm-reading{display:flex;gap:12px;align-items:flex-start}"
    ".sgm-view{flex:1 1 0;min-width:0}"
    # Label Studio 1.23's region details print every per-box value as "Choices: <value>" without the name of
    # its control (RegionDetails.tsx); the named values are in the column beside the images instead.
    ".lsf-detailed-region__result .lsf-region-meta{display:none}"
    ".sgm-descriptor sup{display:none}"  # the placeholder chords of annotation_ui/hotkeys.py
    ".sgm-column{flex:0 0 300px;max-height:calc(100vh - 160px);overflow-y:auto;position:sticky;top:0}"
)


def box_control(view: str) -> str:
    """Name of the RectangleLabels control drawing findings on one view."""
    return f"{view}_finding"


def region_control(view: str, attribute: str) -> str:
    """Name of the per-region Choices control for one attribute on one view."""
    return f"{view}_{attribute}"


def _options(values: tuple[str, ...], keys: dict[str, str] | None) -> str:
    """<Choice> elements, each with its hotkey when the control has a key table."""
    out = []
    for v in values:
        key = (keys or {}).get(v)
        hotkey = f" hotkey={quoteattr(key)}" if key else ""
        out.append(f"<Choice value={quoteattr(v)}{hotkey}/>")
    return "".join(out)


def _choices(
    name: str,
    to: str,
    values: tuple[str, ...],
    *,
    per_region: bool = False,
    multiple: bool = False,
    required: bool = False,
    when_label: str | None = None,
    title: str = "",
    required_message: str = "",
    keys: dict[str, str] | None = None,
    class_name: str = "",
) -> str:
    """One titled <Choices>; per-region ones (with their title) show only when a box of that label is selected."""
    kind = "multiple" if multiple else "single-radio"
    attrs = [f"name={quoteattr(name)}", f"toName={quoteattr(to)}", f"choice={quoteattr(kind)}", 'showInline="true"']
    if per_region:
        attrs.append('perRegion="true"')
    if required:
        # Per region, Label Studio checks every box of the image (only those with `whenLabelValue` when set on
        # the Choices itself) at Submit, selects the first box lacking it and shows the message.
        attrs.append('required="true"')
        if per_region and when_label:
            attrs.append(f"whenLabelValue={quoteattr(when_label)}")
        if required_message:
            attrs.append(f"requiredMessage={quoteattr(required_message)}")
    options = _options(values, keys)
    header = f'<Header value={quoteattr(title)} size="5" style="margin: 8px 0 2px"/>' if title else ""
    body = f"{header}<Choices {' '.join(attrs)}>{options}</Choices>"
    if not per_region:
        return body
    # Label Studio 1.23 matches whenTagName against the selected box's control (the
    # RectangleLabels), not the image its docs name: with the image name nothing ever showed.
    control = box_control(to)
    when = f" whenTagName={quoteattr(control)}" + (f" whenLabelValue={quoteattr(when_label)}" if when_label else "")
    css = f" className={quoteattr(class_name)}" if class_name else ""
    return f'<View visibleWhen="region-selected"{when}{css}>{body}</View>'


def _attribute(view: str, attr: Attribute, schema: Schema, first_key: int) -> str:
    """Per-region choices of one attribute, shown only for the finding types it applies to."""
    everywhere = set(attr.applies_to) == set(schema.finding_types)
    only = None if everywhere else ",".join(attr.applies_to)  # Label Studio reads a comma-separated list
    return _choices(
        region_control(view, attr.name),
        view,
        attr.values,
        per_region=True,
        multiple=attr.multiple,
        when_label=only,
        title=attr.title,
        # Label Studio's own check tests one label per Choices; attributes of several types are left to the
        # gateway's validation at submit.
        required=attr.required and (everywhere or len(attr.applies_to) == 1),
        required_message=f"Each {' or '.join(attr.applies_to)} box on {view.upper()} needs its {attr.title}: "
        "select the box and choose one.",
        keys={v: descriptor_key(view, first_key + i) for i, v in enumerate(attr.values)},
        class_name="sgm-descriptor",
    )


def _descriptors(view: str, schema: Schema) -> list[str]:
    """The per-box descriptors of one view, numbered across attributes for their placeholder chords."""
    out, first = [], 0
    for attr in schema.attributes:
        out.append(_attribute(view, attr, schema, first))
        first += len(attr.values)
    return out


def _box_attributes(view: str, schema: Schema) -> str:
    """Everything a reader says about one box of this view; shown only while such a box is selected."""
    parts = [
        _choices(
            region_control(view, BIRADS),
            view,
            FINDING_CATEGORIES,
            per_region=True,
            title=f"{view.upper()} box: finding BI-RADS",
            required=True,
            required_message=f"Each box on {view.upper()} needs its finding BI-RADS (2-5): select the box and "
            "choose one.",
            keys={v: view_key(view, k) for v, k in BOX_BIRADS_KEYS.items()},
        ),
        _choices(
            region_control(view, BIRADS_SUBTYPE),
            view,
            ASSESSMENT_SUBTYPES,
            per_region=True,
            title="BI-RADS 4 subtype (4A/4B/4C)",
            keys={v: view_key(view, k) for v, k in BOX_SUBTYPE_KEYS.items()},
        ),
        *_descriptors(view, schema),
    ]
    return "".join(parts)


def _image(view: str, schema: Schema) -> str:
    """One view: its label chips above the image, so they stay in sight while drawing."""
    labels = "".join(
        f"<Label value={quoteattr(t)}"
        + (f" hotkey={quoteattr(view_key(view, FINDING_KEYS[t]))}" if t in FINDING_KEYS else "")
        + "/>"
        for t in schema.finding_types
    )
    return "".join(
        [
            f'<View className="sgm-view"><Header value="{view.upper()}" size="5"/>',
            f'<RectangleLabels name="{box_control(view)}" toName="{view}" strokeWidth="2">{labels}</RectangleLabels>',
            f'<Image name="{view}" value="${view}" {IMAGE_TOOLS}/>',
            "</View>",
        ]
    )


def _side_panel() -> str:
    """The side-level scales, below the per-box attributes in the right-hand column."""
    return "".join(
        [
            '<Header value="This breast" size="4" style="margin: 16px 0 0"/>',
            _choices(
                COMPOSITION,
                "cc",
                values(Composition),
                required=True,
                title="Breast composition (a–d)",
                keys=COMPOSITION_KEYS,
            ),
            _choices(
                ASSESSMENT,
                "cc",
                ASSESSMENT_CATEGORIES,
                required=True,
                title="Assessment (BI-RADS 0–6)",
                keys=ASSESSMENT_KEYS,
            ),
            _choices(
                ASSESSMENT_SUBTYPE,
                "cc",
                ASSESSMENT_SUBTYPES,
                title="Assessment 4 subtype",
                keys=ASSESSMENT_SUBTYPE_KEYS,
            ),
        ]
    )


def labeling_config(schema: Schema) -> str:
    """The XML: CC and MLO side by side, a column with the selected box's attributes and the side's scales."""
    column = "".join(
        [
            '<View className="sgm-column">',
            '<View visibleWhen="no-region-selected">',
            '<Header value="Select a box to describe it" size="4" style="margin: 0"/></View>',
            *(_box_attributes(v, schema) for v in VIEWS),
            _side_panel(),
            "</View>",
        ]
    )
    return "".join(
        [
            "<View>",
            f"<Style>{STYLE}</Style>",
            '<View className="sgm-top"><Header value="$side" size="4" style="margin: 0; white-space: nowrap"/>',
            f'<Header value={quoteattr(INSTRUCTION)} size="5" style="margin: 0; font-weight: normal"/></View>',
            '<View className="sgm-reading">',
            *(_image(v, schema) for v in VIEWS),
            column,
            "</View>",
            f'<Relations><Relation value="{SAME_LESION}"/></Relations>',
            "</View>",
        ]
    )
