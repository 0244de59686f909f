"""Timelines: where a map's time went, as a Gantt picture (pure model and rendering).

:mod:`~clustrix.gantt.model` holds the values (:class:`Timeline` of :class:`TaskBar` rows,
their :class:`Totals`); :mod:`~clustrix.gantt.svg`, :mod:`~clustrix.gantt.html` and
:mod:`~clustrix.gantt.png` (matplotlib, the optional ``plot`` extra) turn a timeline into a
self-contained picture. Data in, text (or bytes) out: no clock, no files, no commands. Gathering
the times (ledger, scheduler accounting over a transport) is :mod:`clustrix.backends.timeline`;
``clustrix jobs timeline`` and :func:`clustrix.timeline` are the doors users take.

May import only :mod:`clustrix.errors` and :mod:`clustrix.states` (a layer below everything
that gathers).
"""

from __future__ import annotations

from clustrix.gantt.model import (
    FAILED_STATES,
    SpanStats,
    TaskBar,
    Timeline,
    Totals,
    format_duration,
)

FORMATS = ("html", "svg", "png")
"""What a timeline can be written as."""

__all__ = ["FAILED_STATES", "FORMATS", "SpanStats", "TaskBar", "Timeline", "Totals", "format_duration"]
