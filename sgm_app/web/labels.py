"""Words that reach the pages from data (roles, statuses, report titles and columns), marked for the catalogue."""

from __future__ import annotations


def _(text: str) -> str:
    return text  # extraction marker: templates translate the value when they show it


ROLES = (_("admin"), _("radiologist"), _("clinician"), _("data_engineer"), _("data_steward"), _("researcher"))
TASK_STATUSES = (_("open"), _("done"), _("cancelled"), _("superseded"))
REPORT_TITLES = (
    _("Activity per user and day"),
    _("Ingest volume per day"),
    _("Exam reports per reader and day, with turnaround"),
    _("Annotation throughput and turnaround"),
    _("Open and overdue tasks"),
)
REPORT_COLUMNS = (
    _("day"),
    _("user"),
    _("role"),
    _("event_id"),
    _("action"),
    _("events"),
    _("modality"),
    _("instances"),
    _("bytes"),
    _("reader"),
    _("source"),
    _("exams"),
    _("mean_turnaround_hours"),
    _("what"),
    _("count"),
    _("kind"),
    _("assignee_role"),
    _("overdue"),
)
# The audit log's DICOM codes (PS3.15 A.5.1: EventActionCode, EventOutcomeIndicator) as words an auditor reads.
AUDIT_ACTIONS = {"C": _("Create"), "R": _("Read"), "U": _("Update"), "D": _("Delete"), "E": _("Execute")}
AUDIT_OUTCOMES = {0: _("Success"), 4: _("Minor failure"), 8: _("Serious failure"), 12: _("Major failure")}
FILE_CATEGORIES = (_("Pathology report"), _("Consent form"), _("Referral"), _("Prior report"), _("Other"))
