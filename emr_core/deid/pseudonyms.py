"""Per-patient pseudonym, dicognito seed and date shift, derived from the site secret by HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

# Shift every date back by 62..730 days (whole days keep weekdays' spacing and times of day).
MIN_SHIFT_DAYS = 62
MAX_SHIFT_DAYS = 730
PSEUDONYM_PREFIX = "SGM"


@dataclass(frozen=True)
class PatientKey:
    """What stays the same for one patient in every run and every dataset version."""

    pseudonym: str
    seed: str
    date_offset_days: int


def _mac(secret: bytes, label: str, issuer: str, patient_id: str) -> bytes:
    # Separate labels keep the seed, pseudonym and shift independent of each other.
    message = "\0".join(("sgm-deid-v1", label, issuer.strip(), patient_id.strip())).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).digest()


def patient_key(secret: bytes, issuer: str, patient_id: str) -> PatientKey:
    """The patient's key: a PatientID is unique only within its issuer, so both go in."""
    token = base64.b32encode(_mac(secret, "pseudonym", issuer, patient_id)).decode("ascii")[:16]
    shift = int.from_bytes(_mac(secret, "date", issuer, patient_id)[:8], "big")
    return PatientKey(
        pseudonym=f"{PSEUDONYM_PREFIX}{token}",
        seed=_mac(secret, "seed", issuer, patient_id).hex(),
        date_offset_days=-(MIN_SHIFT_DAYS + shift % (MAX_SHIFT_DAYS - MIN_SHIFT_DAYS + 1)),
    )
