"""Role-aware navigation: each role sees only the pages its permissions open."""

from __future__ import annotations

from dataclasses import dataclass

from emr_core.clinical.roles import Permission, allowed


@dataclass(frozen=True)
class NavItem:
    url: str
    label: str  # an English msgid; templates translate it
    permission: Permission | None


def _(text: str) -> str:
    return text  # marks the string for extraction; translated when rendered


NAV = (
    NavItem("/", _("Home"), None),
    NavItem("/ui/patients", _("Patients"), Permission.PATIENT_READ),
    NavItem("/ui/tasks", _("My tasks"), Permission.TASK_READ),
    NavItem("/ui/review", _("Linking review"), Permission.PATIENT_MERGE),
    NavItem("/ui/admin/users", _("Users"), Permission.USER_ADMIN),
    NavItem("/ui/admin/audit", _("Audit log"), Permission.AUDIT_READ),
    NavItem("/ui/reports", _("Reports"), Permission.OPERATIONS_REPORT),
    NavItem("/ui/research", _("Research data"), Permission.RESEARCH_READ),
    NavItem("/docs", _("API documentation"), None),
)


def navigation(role: str) -> list[NavItem]:
    return [item for item in NAV if item.permission is None or allowed(role, item.permission)]
