"""The date handler we give dicognito: its shift, with a fix for dates whose keyword lacks "Date"."""

from __future__ import annotations

import datetime

import pydicom
from dicognito.datetimeanonymizer import DateTimeAnonymizer


class DateShifter(DateTimeAnonymizer):
    """Shift DA/DT values by whole days.

    dicognito pairs a DA with the TM named like it with Date -> Time; for keywords without "Date"
    (SelectorDAValue) that names the DA itself, and the shifted time overwrites the date.
    """

    def __init__(self, offset_days: int) -> None:
        super().__init__(offset_days * 24)
        self.days = datetime.timedelta(days=offset_days)

    def __call__(self, dataset: pydicom.Dataset, data_element: pydicom.DataElement) -> bool:
        if data_element.VR == "DA" and "Date" not in data_element.keyword and data_element.value:
            values = data_element.value if isinstance(data_element.value, list | tuple) else [data_element.value]
            data_element.value = [self._shift_date(str(v)) for v in values]
            return True
        return bool(super().__call__(dataset, data_element))

    def _shift_date(self, value: str) -> str:
        day = datetime.datetime.strptime(value.replace(".", "")[:8], "%Y%m%d")
        return (day + self.days).strftime("%Y%m%d")
