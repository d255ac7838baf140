"""Label Studio labeling configuration (XML) generated from the BI-RADS schema."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

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


def box_control(view: str) -> str:
    """Name of the RectangleLabels control drawing findings on one view."""
    return f"{view}_finding"


def region_control(view: str, attribute: str) -> str:
    """Name of the per-region Choices control for one attribute on one view."""
    return f"{view}_{attribute}"


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
    options = "".join(f"<Choice value={quoteattr(v)}/>" for v in values)
    header = f'<Header value={quoteattr(title)} size="6"/>' if title else ""
    body = f"{header}<Choices {' '.join(attrs)}>{options}</Choices>"
    if not per_region:
        return body
    # Label Studio 1.23 matches whenTagName against the selected box's control (the
    # RectangleLabels), not the image its docs name: with the image name nothing ever showed.
    control = box_control(to)
    when = f" whenTagName={quoteattr(control)}" + (f" whenLabelValue={quoteattr(when_label)}" if when_label else "")
    return f'<View visibleWhen="region-selected"{when}>{body}</View>'


def _attribute(view: str, attr: Attribute, schema: Schema) -> str:
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
    )


def _view_panel(view: str, schema: Schema) -> str:
    """One image with its finding rectangles and the per-finding attributes."""
    labels = "".join(f"<Label value={quoteattr(t)}/>" for t in schema.finding_types)
    parts = [
        f'<View style="flex: 1; min-width: 0"><Header value="{view.upper()}"/>',
        f'<Image name="{view}" value="${view}" zoom="true" zoomControl="true" rotateControl="false"/>',
        f'<RectangleLabels name="{box_control(view)}" toName="{view}" strokeWidth="2">{labels}</RectangleLabels>',
        _choices(
            region_control(view, BIRADS),
            view,
            FINDING_CATEGORIES,
            per_region=True,
            title="Finding BI-RADS",
            required=True,
            required_message=f"Each box on {view.upper()} needs its finding BI-RADS (2-5): select the box and "
            "choose one.",
        ),
        _choices(
            region_control(view, BIRADS_SUBTYPE),
            view,
            ASSESSMENT_SUBTYPES,
            per_region=True,
            title="BI-RADS 4 subtype (4A/4B/4C)",
        ),
        *(_attribute(view, attr, schema) for attr in schema.attributes),
        "</View>",
    ]
    return "".join(parts)


def labeling_config(schema: Schema) -> str:
    """The XML: CC and MLO side by side, boxes with per-box attributes, same_lesion links, side-level scales."""
    side = "".join(
        [
            '<View style="display: flex; gap: 2em">',
            _choices(COMPOSITION, "cc", values(Composition), required=True, title="Breast composition (a–d)"),
            _choices(ASSESSMENT, "cc", ASSESSMENT_CATEGORIES, required=True, title="Assessment (BI-RADS 0–6)"),
            _choices(ASSESSMENT_SUBTYPE, "cc", ASSESSMENT_SUBTYPES, title="Assessment 4 subtype"),
            "</View>",
        ]
    )
    hint = (
        "Draw each finding on CC and on MLO, then link the two boxes of the same lesion with the "
        f"relation '{SAME_LESION}' (select the CC box, create a relation, click the MLO box)."
    )
    return "".join(
        [
            "<View>",
            '<Header value="$side"/>',  # which breast this task shows: CC and MLO of one side
            f'<Header value={quoteattr(hint)} size="6"/>',
            '<View style="display: flex; gap: 1em">',
            *(_view_panel(v, schema) for v in VIEWS),
            "</View>",
            f'<Relations><Relation value="{SAME_LESION}"/></Relations>',
            side,
            "</View>",
        ]
    )
