"""One audit event as a DICOM PS3.15 A.5 AuditMessage (the IHE ATNA XML), and back to its chain seal."""

from __future__ import annotations

import base64
import json
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from defusedxml.ElementTree import fromstring

from emr_core.models import AuditEvent

EVENT_NAMES = {
    "110100": "Application Activity",
    "110101": "Audit Log Used",
    "110103": "DICOM Instances Accessed",
    "110104": "DICOM Instances Transferred",
    "110106": "Export",
    "110107": "Import",
    "110110": "Patient Record",
    "110112": "Query",
    "110113": "Security Alert",
    "110114": "User Authentication",
}
# The chain position travels in the message as a system object (RFC 3881 type 2, role 13 security resource).
CHAIN_ID_TYPE = "SGM-AUDIT-SEQ"


def _code(parent: ET.Element, tag: str, code: str, system: str, text: str) -> None:
    ET.SubElement(parent, tag, {"csd-code": code, "codeSystemName": system, "originalText": text})


def _object(parent: ET.Element, object_id: str, type_code: str, role: str, id_type: tuple[str, str, str]) -> ET.Element:
    node = ET.SubElement(
        parent,
        "ParticipantObjectIdentification",
        {
            "ParticipantObjectID": object_id,
            "ParticipantObjectTypeCode": type_code,
            "ParticipantObjectTypeCodeRole": role,
        },
    )
    _code(node, "ParticipantObjectIDTypeCode", *id_type)
    return node


def _detail(node: ET.Element, kind: str, value: str) -> None:
    encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
    ET.SubElement(node, "ParticipantObjectDetail", {"type": kind, "value": encoded})


def _when(event: AuditEvent) -> str:
    moment = event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=UTC)
    return moment.isoformat(timespec="microseconds")


def audit_message(event: AuditEvent, site: str = "", source_id: str | None = None) -> str:
    """The AuditMessage XML of a chained event, on one line (syslog MSG part).

    `site` names the chain (the key's fingerprint): a repository shared by several installations
    holds messages of several chains, and verify compares only its own.
    """
    root = ET.Element("AuditMessage")
    ident = ET.SubElement(
        root,
        "EventIdentification",
        {"EventActionCode": event.action, "EventDateTime": _when(event), "EventOutcomeIndicator": str(event.outcome)},
    )
    _code(ident, "EventID", event.event_id, "DCM", EVENT_NAMES.get(event.event_id, event.event_id))
    if event.event_type:
        _code(ident, "EventTypeCode", event.event_type, "SGM", event.event_type)
    participant = {"UserID": event.user_id or event.ae_title or "sgm", "UserIsRequestor": "true"}
    if event.network_address:
        participant |= {"NetworkAccessPointID": event.network_address, "NetworkAccessPointTypeCode": "2"}
    actor = ET.SubElement(root, "ActiveParticipant", participant)
    if event.user_role:
        _code(actor, "RoleIDCode", event.user_role, "SGM", event.user_role)
    source = {"AuditSourceID": source_id or f"sgm@{socket.gethostname()}"}
    if site:
        source["AuditEnterpriseSiteID"] = site
    ET.SubElement(root, "AuditSourceIdentification", source)
    if event.patient_ref:
        _object(root, event.patient_ref, "1", "1", ("2", "RFC-3881", "Patient Number"))
    if event.study_uid:
        study = _object(root, event.study_uid, "2", "3", ("110180", "DCM", "Study Instance UID"))
        if event.accession_number:
            _detail(study, "AccessionNumber", event.accession_number)
    chain = _object(root, str(event.id), "2", "13", (CHAIN_ID_TYPE, "SGM", "Audit chain sequence"))
    _detail(chain, "RowHash", event.row_hash)
    _detail(chain, "PrevHash", event.prev_hash)
    if event.sop_instance_uid or event.instance_count:
        _detail(chain, "Instances", json.dumps({"sop": event.sop_instance_uid, "count": event.instance_count}))
    if event.detail:
        _detail(chain, "Detail", json.dumps(event.detail, ensure_ascii=False, sort_keys=True, default=str))
    return ET.tostring(root, encoding="unicode")


@dataclass(frozen=True)
class CopiedSeal:
    """What the external copy says one event was: its chain position, seal and time."""

    event_id: int
    row_hash: str
    occurred_at: str
    site: str = ""


def parse_seal(xml_text: str) -> CopiedSeal | None:
    """The chain position and seal carried by an AuditMessage; None if it carries none or is not XML."""
    try:
        root = fromstring(xml_text)
    except Exception:  # hostile or truncated input is reported by the caller as unreadable
        return None
    when = root.find("EventIdentification")
    source = root.find("AuditSourceIdentification")
    site = source.get("AuditEnterpriseSiteID", "") if source is not None else ""
    for node in root.iter("ParticipantObjectIdentification"):
        id_type = node.find("ParticipantObjectIDTypeCode")
        if id_type is None or id_type.get("csd-code") != CHAIN_ID_TYPE:
            continue
        details = {d.get("type"): d.get("value", "") for d in node.iter("ParticipantObjectDetail")}
        object_id = node.get("ParticipantObjectID", "")
        if not object_id.isdigit() or "RowHash" not in details:
            return None
        row_hash = base64.b64decode(details["RowHash"] or "", validate=False).decode("ascii", "replace")
        stamp = when.get("EventDateTime", "") if when is not None else ""
        return CopiedSeal(int(object_id), row_hash, stamp, site)
    return None


def now_rfc5424() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
