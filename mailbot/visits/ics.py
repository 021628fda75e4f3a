"""The calendar invitation attached to a visit notice (iCalendar, RFC 5545 / iTIP RFC 5546).

One visit is one VEVENT whose UID never changes (`VIS-2026-0001@<bot domain>`),
so every calendar client files the first notice, each change and a
cancellation under the same entry: a change is METHOD:REQUEST with SEQUENCE
one higher, a cancellation METHOD:CANCEL with STATUS:CANCELLED and SEQUENCE
one higher again. The organizer is the bot's own address, because the bot
sends every update and clients only apply updates from the organizer of
record; attendees carry RSVP=TRUE, and their clients' answers (accepted,
declined, tentative) come back to the bot, which notes them on the visit.

Times are written with TZID=Asia/Shanghai (the configured zone) and a
VTIMEZONE for the years around the visit, which Outlook needs to show the
right hour. Pure: the caller passes the stamp time, nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress, vText

PRODID = "-//HQ Resources and Market Dept//mailbot visits//ZH-CN"


@dataclass(frozen=True)
class Invite:
    uid: str
    sequence: int
    method: str                     # REQUEST | CANCEL
    summary: str
    description: str
    location: str
    starts: datetime                # aware
    ends: datetime
    stamp: datetime                 # when this version was issued
    organizer: tuple[str, str]      # (name, address)
    attendees: Sequence[tuple[str, str]]


def uid_for(number: str, domain: str) -> str:
    """The visit's calendar UID: stable for its whole life, unique across the group's mail domain."""
    return f"{number}@{domain}"


def _address(name: str, addr: str, **params: str) -> vCalAddress:
    a = vCalAddress(f"mailto:{addr}")
    if name:
        a.params["CN"] = vText(name)
    for k, v in params.items():
        a.params[k] = v
    return a


def calendar_bytes(inv: Invite) -> bytes:
    """The .ics file for one version of the visit."""
    if inv.method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported iTIP method {inv.method!r}")
    tz = inv.starts.tzinfo
    if not isinstance(tz, ZoneInfo):
        raise ValueError("visit times must carry a ZoneInfo time zone")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", inv.method)
    cal.add_component(_timezone(tz.key, inv.starts.date(), inv.ends.date()))

    ev = Event()
    ev.add("uid", inv.uid)
    ev.add("sequence", inv.sequence)
    ev.add("dtstamp", inv.stamp.astimezone(ZoneInfo("UTC")))
    ev.add("dtstart", inv.starts)
    ev.add("dtend", inv.ends.astimezone(tz))
    ev.add("summary", inv.summary)
    ev.add("location", inv.location)
    ev.add("description", inv.description)
    ev.add("status", "CANCELLED" if inv.method == "CANCEL" else "CONFIRMED")
    ev.add("transp", "OPAQUE")
    ev.add("organizer", _address(*inv.organizer), encode=False)
    if inv.method == "REQUEST":
        ev.add_component(_reminder(inv.summary))
    seen: set[str] = set()
    for name, addr in inv.attendees:
        if addr.lower() in seen:  # a person on two lists (unit contact and preparer) is invited once
            continue
        seen.add(addr.lower())
        ev.add("attendee", _address(name, addr, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="TRUE"),
               encode=False)
    cal.add_component(ev)
    data: bytes = cal.to_ical()
    return data


def _reminder(summary: str) -> Alarm:
    """The calendar reminds each attendee an hour before (VALARM)."""
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", summary)
    alarm.add("trigger", timedelta(hours=-1))
    return alarm


def _timezone(tzid: str, first: date, last: date) -> Timezone:
    """A VTIMEZONE covering the visit: a year either side is plenty and keeps the file small."""
    tzc = Timezone.from_tzid(tzid, first_date=date(first.year - 1, 1, 1), last_date=date(last.year + 2, 1, 1))
    tzc.pop("COMMENT", None)  # the library's "only works from … to …" note would puzzle a reader of the file
    return tzc
