"""DIMSE status codes (PS3.7 Annex C, PS3.4 Annex B/C), named once for every dimse module.

Names follow PS3.4 and pynetdicom.status; `hex_code` spells a code as logs and audit show it.
"""

from __future__ import annotations

SUCCESS = 0x0000
# Storage Service Class (PS3.4 B.2.3)
OUT_OF_RESOURCES = 0xA700  # Refused: Out of Resources
DATA_SET_DOES_NOT_MATCH_SOP_CLASS = 0xA900  # Error: Data Set Does Not Match SOP Class
CANNOT_UNDERSTAND = 0xC000  # Error: Cannot Understand (0xCxxx)
COERCION_OF_DATA_ELEMENTS = 0xB000  # Warning
# This receiver's codes inside the "Cannot Understand" range:
CANNOT_UNDERSTAND_HEADER = 0xC210  # the data set cannot be indexed (quarantined with its reason)
PROCESSING_FAILURE = 0xC211  # an unexpected error in the handler (the code pynetdicom answers)
SOP_INSTANCE_MISMATCH = 0xC212  # the command's Affected SOP Instance UID is not the data set's
# Query/Retrieve (PS3.4 C.4)
PENDING = 0xFF00
PENDING_WARNING = 0xFF01  # Pending: optional keys not supported
PENDING_STATUSES = (PENDING, PENDING_WARNING)
UNABLE_TO_PROCESS = 0xC000  # Failure: Unable to Process (C-FIND/C-MOVE/C-GET)
# What a finished C-MOVE/C-GET may end with and still count as delivered
RETRIEVE_OK_STATUSES = (SUCCESS, COERCION_OF_DATA_ELEMENTS)


def hex_code(code: int) -> str:
    """The 0xNNNN spelling of a status in logs and audit details."""
    return f"0x{code:04X}"
