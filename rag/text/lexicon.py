"""Calendar words, written once: every stage that reads dates takes them from here.

Spelt out rather than taken from `calendar.month_name`, which follows the process's
locale: the articles and questions are English whatever the server's locale is.
"""

from __future__ import annotations

MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december")
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                 "sunday")

# Lower-case name or abbreviation → month number ("sept" as well as "sep").
MONTHS: dict[str, int] = {name: i for i, name in enumerate(MONTH_NAMES, start=1)}
MONTHS.update({name[:3]: i for i, name in enumerate(MONTH_NAMES, start=1)})
MONTHS["sept"] = 9
