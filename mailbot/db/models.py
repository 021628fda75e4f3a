"""The database: what mailbot knows and what it has promised to do.

Hand-offs that must survive a crash are rows here: inbound messages (raw bytes,
unique keys, status), the outbox (idempotency key, attempts), quarantine.
The unique constraints *are* the deduplication: a second insert fails, it is
never a look-up that races.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC out; stored naive UTC so SQLite and PostgreSQL agree."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime}


# --- directory -------------------------------------------------------------


class Unit(Base):
    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    leader_name: Mapped[str | None] = mapped_column(String(100))
    leader_email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    contacts: Mapped[list[Person]] = relationship(back_populates="unit", order_by="Person.id")
    customers: Mapped[list[Customer]] = relationship(secondary="unit_customers", order_by="Customer.code",
                                                     back_populates="units")


class Person(Base):
    """A unit's contact or an HQ staff member; the e-mail address is how mail finds them."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))  # contact | hq | customer
    staff_key: Mapped[str | None] = mapped_column(String(50), unique=True)  # HQ staff id in the directory
    title: Mapped[str | None] = mapped_column(String(200))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A hard bounce of our mail to this address: its unit's mail goes to its other contacts and leader meanwhile.
    bounced_at: Mapped[datetime | None]
    bounce_note: Mapped[str | None] = mapped_column(String(300))  # which mail bounced

    unit: Mapped[Unit | None] = relationship(back_populates="contacts")


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # strategic | vip
    hq_staff_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    aliases: Mapped[str | None] = mapped_column(Text)  # short names people write, one per line (directory.yaml)

    hq_staff: Mapped[Person | None] = relationship()
    units: Mapped[list[Unit]] = relationship(secondary="unit_customers", order_by="Unit.code",
                                             back_populates="customers")
    contacts: Mapped[list[Person]] = relationship(secondary="customer_contacts", order_by="Person.id")


class UnitCustomer(Base):
    __tablename__ = "unit_customers"
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)


class CustomerContact(Base):
    """A customer's own contact (directory.yaml `customers[].contacts`, role "customer"): surveyed directly."""

    __tablename__ = "customer_contacts"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)


# --- the monthly cycle -----------------------------------------------------


class Period(Base):
    __tablename__ = "periods"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(7), unique=True)  # 2026-11
    deadline: Mapped[date] = mapped_column(Date)


class ReportRequest(Base):
    """The monthly request one unit was sent; its token and Message-ID match the reply."""

    __tablename__ = "report_requests"
    __table_args__ = (UniqueConstraint("period_id", "unit_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    token: Mapped[str] = mapped_column(String(60), unique=True)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime]

    period: Mapped[Period] = relationship()
    unit: Mapped[Unit] = relationship()


class InboundMessage(Base):
    __tablename__ = "inbound_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200))
    uid_key: Mapped[str | None] = mapped_column(String(400), unique=True)  # mailbox:UIDVALIDITY:UID or Maildir key
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # sha256 of Message-ID, From and body: a Message-ID alone never makes a second message a duplicate
    content_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)   # emptied after limits.keep_raw_months (raw_pruned_at set)
    raw_pruned_at: Mapped[datetime | None]
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]  # when the mail server got it: decides on time / late
    recorded_at: Mapped[datetime]
    # received → processed | answered | handed_over | ignored | quarantined
    status: Mapped[str] = mapped_column(String(20), default="received")
    kind: Mapped[str | None] = mapped_column(String(20))
    from_addr: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"))
    outcome: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None]

    unit: Mapped[Unit | None] = relationship()


class Submission(Base):
    """An accepted report. A corrected resend is a new version; the old one stays, superseded."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("period_id", "unit_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]
    on_time: Mapped[bool] = mapped_column(Boolean)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(50))
    urgent_text: Mapped[str | None] = mapped_column(Text)

    unit: Mapped[Unit] = relationship()
    period: Mapped[Period] = relationship()
    strategic: Mapped[list[StrategicEntry]] = relationship(back_populates="submission", order_by="StrategicEntry.id")
    vip: Mapped[list[VipItem]] = relationship(back_populates="submission", order_by="VipItem.id")


class StrategicEntry(Base):
    """One strategic customer's block of one submission: the risk and HQ answers, and its items."""

    __tablename__ = "strategic_entries"
    __table_args__ = (UniqueConstraint("submission_id", "customer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    risk: Mapped[str | None] = mapped_column(String(10))
    needs_hq: Mapped[bool | None] = mapped_column(Boolean)

    submission: Mapped[Submission] = relationship(back_populates="strategic")
    customer: Mapped[Customer] = relationship()
    items: Mapped[list[ReportItem]] = relationship(order_by="ReportItem.category")


class ReportItem(Base):
    """Unit × customer × §8.1.1 category: one answered field."""

    __tablename__ = "report_items"
    __table_args__ = (UniqueConstraint("entry_id", "category"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("strategic_entries.id"))
    category: Mapped[int] = mapped_column(Integer)  # 1..9
    text: Mapped[str] = mapped_column(Text)


class VipItem(Base):
    __tablename__ = "vip_items"
    __table_args__ = (UniqueConstraint("submission_id", "customer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    issue: Mapped[str | None] = mapped_column(Text)
    handling: Mapped[str | None] = mapped_column(Text)
    needs_hq: Mapped[bool | None] = mapped_column(Boolean)

    submission: Mapped[Submission] = relationship(back_populates="vip")
    customer: Mapped[Customer] = relationship()


class Request(Base):
    """A 诉求 HQ must answer: from a needs-HQ answer, a VIP escalation or an urgent matter."""

    __tablename__ = "requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)  # SQ-2026-0007
    source: Mapped[str] = mapped_column(String(20))  # strategic | vip | urgent
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    category: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(120))  # one line (domain.titles); NULL before it was kept
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # new → in_progress → awaiting_approval → answered → closed
    status: Mapped[str] = mapped_column(String(30), default="new")
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    last_reported_at: Mapped[datetime | None]  # the matter was reported again (merged into this request)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    unit: Mapped[Unit | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    assignee: Mapped[Person | None] = relationship()
    inbound: Mapped[InboundMessage] = relationship()
    submission: Mapped[Submission | None] = relationship()
    events: Mapped[list[RequestEvent]] = relationship(back_populates="request", order_by="RequestEvent.id")


class RequestEvent(Base):
    """The history of a request: who did what when (created, reported again, status, transfer, answer…)."""

    __tablename__ = "request_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))  # an e-mail address, or "mailbot"
    action: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str | None] = mapped_column(Text)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))

    request: Mapped[Request] = relationship(back_populates="events")


class Quarantine(Base):
    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None]  # set when `mailbot reparse` takes it out again
    notified_at: Mapped[datetime | None]  # when the operator was told: at once, or NULL until the next digest

    inbound: Mapped[InboundMessage] = relationship()


class Handover(Base):
    """A unit contact's mail that is not a report, handed to people at HQ (DESIGN §8.2.1)."""

    __tablename__ = "handovers"
    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    recipients: Mapped[str] = mapped_column(Text)  # the HQ addresses it was forwarded to, comma-separated
    created_at: Mapped[datetime]
    notified_at: Mapped[datetime | None]  # when the operator's digest listed it

    inbound: Mapped[InboundMessage] = relationship()
    unit: Mapped[Unit] = relationship()


class OutboxMail(Base):
    """A mail mailbot decided to send, written in the same transaction as the decision."""

    __tablename__ = "outbox"
    # The sender's pending scan and the per-sender loop breaker run on every poll and every message.
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_answers", "answers_addr", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    idem_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    recipients: Mapped[str] = mapped_column(Text)  # comma-separated envelope recipients
    answers_addr: Mapped[str | None] = mapped_column(String(320))  # the sender an automatic answer goes back to
    subject: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))  # a reply to this mail concerns it
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))      # likewise, a visit
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 1: an urgent matter's, sent first


class KeyValue(Base):
    """Small durable facts: a mailbox's baseline and UIDVALIDITY, the last successful poll, open alarms."""

    __tablename__ = "state"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


# --- visits and the customer archive (§7) ---------------------------------------------


class Visit(Base):
    """A visit to a key customer (outgoing, §7.2) or a customer's visit to HQ (incoming, §7.1)."""

    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)  # VIS-2026-0001; the calendar UID derives from it
    kind: Mapped[str] = mapped_column(String(10))  # outgoing | incoming
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    topic: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # JSON: attendees, itinerary, duties, briefing items, arrangements
    hq_owner_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE: +1 per change
    status: Mapped[str] = mapped_column(String(20), default="planned")  # planned | cancelled | done
    source_file: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    summary: Mapped[str | None] = mapped_column(Text)   # 会谈纪要
    agreed: Mapped[str | None] = mapped_column(Text)    # 达成事项
    summary_at: Mapped[datetime | None]
    # A promotion event (推广会, 见面会) of a national campaign (§6.1): the plan file's `campaign:` key.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)

    customer: Mapped[Customer] = relationship()
    hq_owner: Mapped[Person | None] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    units: Mapped[list[Unit]] = relationship(secondary="visit_units", order_by="Unit.code")
    follow_ups: Mapped[list[FollowUp]] = relationship(back_populates="visit", order_by="FollowUp.id")
    notes: Mapped[list[VisitNote]] = relationship(back_populates="visit", order_by="VisitNote.id")


class VisitUnit(Base):
    __tablename__ = "visit_units"
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)


class FollowUp(Base):
    """An action agreed at a visit, chased until reported done (§7.1.4, §7.2.3)."""

    __tablename__ = "follow_ups"
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))          # as written in the summary
    owner_email: Mapped[str | None] = mapped_column(String(320))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    due: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | done
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]

    visit: Mapped[Visit] = relationship(back_populates="follow_ups")
    unit: Mapped[Unit | None] = relationship()


class VisitNote(Base):
    """What was said about a visit or one of its follow-ups afterwards: progress replies, the archive's entries."""

    __tablename__ = "visit_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_ups.id"))
    at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))

    visit: Mapped[Visit] = relationship(back_populates="notes")


# --- satisfaction surveys (§5.3) -------------------------------------------------


class Survey(Base):
    """A satisfaction survey as launched from its file: the questions, the deadline, the reminders."""

    __tablename__ = "surveys"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)   # MY-2026-01
    title: Mapped[str] = mapped_column(Text)
    questions: Mapped[str] = mapped_column(Text)   # JSON: [{"text": …, "scored": true}, …]
    deadline: Mapped[date] = mapped_column(Date)
    reminders: Mapped[str] = mapped_column(Text)   # JSON: days before the deadline, e.g. [3, 1]
    note: Mapped[str | None] = mapped_column(Text)  # a line for the covering mail
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | closed
    source_file: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    targets: Mapped[list[SurveyTarget]] = relationship(back_populates="survey", order_by="SurveyTarget.id")


class SurveyTarget(Base):
    """One surveyed customer: asked directly, or through the unit serving it (代填, `unit` set)."""

    __tablename__ = "survey_targets"
    __table_args__ = (UniqueConstraint("survey_id", "customer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    token: Mapped[str] = mapped_column(String(40), unique=True)    # MY-2026-01-S001
    active: Mapped[bool] = mapped_column(Boolean, default=True)   # dropped from the file: no more reminders
    created_at: Mapped[datetime]

    survey: Mapped[Survey] = relationship(back_populates="targets")
    customer: Mapped[Customer] = relationship()
    unit: Mapped[Unit | None] = relationship()
    responses: Mapped[list[SurveyResponse]] = relationship(back_populates="target", order_by="SurveyResponse.id")


class SurveyResponse(Base):
    """One accepted answer to a survey form; a later one supersedes it (versions kept)."""

    __tablename__ = "survey_responses"
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("survey_targets.id"), index=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"), unique=True)
    version: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]
    late: Mapped[bool] = mapped_column(Boolean)
    by_unit: Mapped[bool] = mapped_column(Boolean)   # filled in by the unit's contact on the customer's behalf
    respondent_name: Mapped[str | None] = mapped_column(String(100))
    respondent_phone: Mapped[str | None] = mapped_column(String(50))
    scores: Mapped[str] = mapped_column(Text)   # JSON: {"1": 5, "2": null, …}
    texts: Mapped[str] = mapped_column(Text)    # JSON: {"7": "…"}
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("survey_responses.id"))

    target: Mapped[SurveyTarget] = relationship(back_populates="responses", foreign_keys=[target_id])


# --- national product and service campaigns (§6.1) --------------------------------------


class Campaign(Base):
    """A national product or service plan (全国性产品及服务方案) as launched from its file."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)   # TG-2026-01
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    every_days: Mapped[int | None] = mapped_column(Integer)        # feedback cadence; NULL: with the monthly request
    reminders: Mapped[str] = mapped_column(Text)                   # JSON: days before each feedback date, e.g. [3, 1]
    start_date: Mapped[date] = mapped_column(Date)                 # the rounds count from here
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | closed
    source_file: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    versions: Mapped[list[CampaignVersion]] = relationship(back_populates="campaign",
                                                           order_by="CampaignVersion.version")
    targets: Mapped[list[CampaignTarget]] = relationship(back_populates="campaign", order_by="CampaignTarget.id")


class CampaignVersion(Base):
    """One version of the plan the units were sent: its documents (by digest) and what changed."""

    __tablename__ = "campaign_versions"
    __table_args__ = (UniqueConstraint("campaign_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))   # SHA-256 over title, description and documents
    documents: Mapped[str] = mapped_column(Text)      # JSON: [{"name": …, "sha256": …, "size": …}]
    changes: Mapped[str | None] = mapped_column(Text)  # the author's note on what changed
    created_at: Mapped[datetime]

    campaign: Mapped[Campaign] = relationship(back_populates="versions")


class CampaignTarget(Base):
    """One target customer as one unit works it; a unit's own addition is `added_by_unit`."""

    __tablename__ = "campaign_targets"
    __table_args__ = (UniqueConstraint("campaign_id", "customer_id", "unit_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)   # dropped from the file: off the form and board
    added_by_unit: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    campaign: Mapped[Campaign] = relationship(back_populates="targets")
    customer: Mapped[Customer] = relationship()
    unit: Mapped[Unit] = relationship()
    stages: Mapped[list[CampaignStage]] = relationship(back_populates="target", order_by="CampaignStage.id")
    entries: Mapped[list[CampaignEntry]] = relationship(back_populates="target", order_by="CampaignEntry.id")


class CampaignFeedback(Base):
    """One accepted feedback reply of one unit; versions count per unit, rounds by the cadence."""

    __tablename__ = "campaign_feedback"
    # One reply is one feedback per campaign: a monthly report may carry the blocks of several (migration 0008).
    __table_args__ = (UniqueConstraint("campaign_id", "unit_id", "version"),
                      UniqueConstraint("inbound_id", "campaign_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    version: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)   # the feedback round it arrived in (1 = before the first date)
    received_at: Mapped[datetime]

    unit: Mapped[Unit] = relationship()


class CampaignEntry(Base):
    """One 【客户】 block of an accepted feedback, as read (an empty stage: no change)."""

    __tablename__ = "campaign_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("campaign_feedback.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("campaign_targets.id"), index=True)
    stage: Mapped[str | None] = mapped_column(String(10))
    intention: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[str | None] = mapped_column(Text)
    next_steps: Mapped[str | None] = mapped_column(Text)
    expected_signing: Mapped[str | None] = mapped_column(String(10))   # yyyy-mm or yyyy-mm-dd
    signing_text: Mapped[str | None] = mapped_column(Text)             # as written
    needs_hq: Mapped[bool | None] = mapped_column(Boolean)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))

    feedback: Mapped[CampaignFeedback] = relationship()
    target: Mapped[CampaignTarget] = relationship(back_populates="entries")
    request: Mapped[Request | None] = relationship()


class CampaignStage(Base):
    """The funnel's history: each change of a target's stage, with its date and the mail that reported it."""

    __tablename__ = "campaign_stages"
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("campaign_targets.id"), index=True)
    stage: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime]
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_messages.id"))
    feedback_id: Mapped[int] = mapped_column(ForeignKey("campaign_feedback.id"))

    target: Mapped[CampaignTarget] = relationship(back_populates="stages")


# --- the board (web) ---------------------------------------------------------------------------------------


class WebLink(Base):
    """A one-time sign-in link mailed to a person. Only the token's SHA-256 is kept, so a copy of the database
    signs nobody in; a link works once, until `expires_at`, and only for its person."""

    __tablename__ = "web_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    client: Mapped[str] = mapped_column(String(100))            # the address the link was asked for from
    used_from: Mapped[str | None] = mapped_column(String(100))  # and the one it was opened from

    person: Mapped[Person] = relationship()


class WebSignin(Base):
    """Every sign-in request, known address or not: the rate limit counts them per address and per client."""

    __tablename__ = "web_signins"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    address: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(100))


class WebAction(Base):
    """What a person did on the board — who, when, from where — as the mail commands keep their mail."""

    __tablename__ = "web_actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    client: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))     # signin | request
    target: Mapped[str | None] = mapped_column(String(60))  # e.g. SQ-2026-0001
    detail: Mapped[str | None] = mapped_column(Text)
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))  # the command it became
