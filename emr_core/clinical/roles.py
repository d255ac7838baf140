"""Roles and what each may do; every API endpoint asks for exactly one permission."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    RADIOLOGIST = "radiologist"
    CLINICIAN = "clinician"
    DATA_ENGINEER = "data_engineer"
    DATA_STEWARD = "data_steward"
    RESEARCHER = "researcher"


class Permission(StrEnum):
    PATIENT_READ = "patient:read"
    PATIENT_WRITE = "patient:write"
    PATIENT_MERGE = "patient:merge"
    IMAGE_READ = "image:read"
    EXAM_REPORT_WRITE = "exam_report:write"
    FORM_READ = "form:read"
    FORM_WRITE = "form:write"
    TEMPLATE_WRITE = "template:write"
    FILE_READ = "file:read"
    FILE_WRITE = "file:write"
    TASK_READ = "task:read"
    TASK_WRITE = "task:write"
    USER_ADMIN = "user:admin"
    AUDIT_READ = "audit:read"
    OPERATIONS_REPORT = "report:read"
    RESEARCH_READ = "research:read"
    PREDICTION_RUN = "prediction:run"


_CLINICAL = frozenset(
    {
        Permission.PATIENT_READ,
        Permission.PATIENT_WRITE,
        Permission.IMAGE_READ,
        Permission.FORM_READ,
        Permission.FORM_WRITE,
        Permission.FILE_READ,
        Permission.FILE_WRITE,
        Permission.TASK_READ,
        Permission.TASK_WRITE,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission) - {Permission.RESEARCH_READ},
    # Radiologists ask the model for a second look on demand; reading predictions is an image read.
    Role.RADIOLOGIST: _CLINICAL | {Permission.EXAM_REPORT_WRITE, Permission.PREDICTION_RUN},
    Role.CLINICIAN: _CLINICAL,
    # Data engineers run the pipeline: operational reports and de-identified data only.
    Role.DATA_ENGINEER: frozenset({Permission.OPERATIONS_REPORT, Permission.RESEARCH_READ}),
    # Data stewards resolve the linking review queue: they see patients to compare them, and merge records.
    Role.DATA_STEWARD: frozenset({Permission.PATIENT_READ, Permission.PATIENT_MERGE}),
    # Researchers never get a permission that returns identified patient data.
    Role.RESEARCHER: frozenset({Permission.RESEARCH_READ}),
}


def allowed(role: str, permission: Permission) -> bool:
    """True when the role (a string from the database) grants the permission."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
