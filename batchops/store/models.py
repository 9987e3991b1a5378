"""Peewee models: the domain from DESIGN.md. Only the store knows SQL."""

from __future__ import annotations

from typing import Any

import peewee as pw

from batchops.clock import utc_now
from batchops.store.db import db
from batchops.store.fields import JSONField, UTCDateTimeField

UPLOAD_STATUSES = ("staged", "queued", "processing", "published", "failed")
RUN_STATUSES = ("queued", "running", "succeeded", "failed", "skipped", "cancelled")
RUN_KINDS = ("pipeline", "job")
TRIGGERS = ("cli", "tui", "schedule", "retry", "ingest", "catch-up", "recovery")
INCIDENT_STATES = ("open", "assigned", "analyzing", "resolved", "archived")
SEVERITIES = ("low", "medium", "high", "critical")
TICKET_STATES = ("open", "assigned", "resolved")
MISSED_POLICIES = ("skip", "once", "all")


class BaseModel(pw.Model):
    # Peewee adds these at run time (the primary key; ``<fk>_id`` for each foreign key).
    # Declared for type checkers only: peewee ships no type information.
    id: Any

    class Meta:
        database = db
        legacy_table_names = False


class Upload(BaseModel):
    original_name = pw.CharField(max_length=512)
    sha256 = pw.CharField(max_length=64, index=True)
    size = pw.BigIntegerField(default=0)
    kind = pw.CharField(max_length=16)  # csv / xlsx / pdf / unknown
    blob_path = pw.CharField(max_length=512)  # relative to the data home: files/ab/abcd….ext
    department = pw.CharField(max_length=128, null=True)
    notes = pw.TextField(default="")
    status = pw.CharField(max_length=16, default="staged", index=True)
    plan = pw.CharField(max_length=32, default="transform")
    plan_config = JSONField(default=dict)
    sheet = pw.CharField(max_length=128, null=True)
    table_index = pw.IntegerField(null=True)  # PDF: --table N, which of several tables to read
    force_publish = pw.BooleanField(default=False)  # publish although the confidence gate doubts the table
    encoding = pw.CharField(max_length=64, null=True)  # --encoding: forces a CSV's text encoding
    summary = JSONField(null=True)
    report_csv = pw.TextField(null=True)  # kept when small; the file under exports/ always has it
    report_pdf = pw.BlobField(null=True)
    report_csv_path = pw.CharField(max_length=1024, null=True)
    report_pdf_path = pw.CharField(max_length=1024, null=True)
    rows_in = pw.BigIntegerField(null=True)
    rows_out = pw.BigIntegerField(null=True)
    error_code = pw.CharField(max_length=64, null=True)
    error_message = pw.TextField(null=True)
    created_at = UTCDateTimeField(default=utc_now, index=True)
    updated_at = UTCDateTimeField(default=utc_now)
    published_at = UTCDateTimeField(null=True)


class Job(BaseModel):
    name = pw.CharField(max_length=128, unique=True)
    callable = pw.CharField(max_length=256)
    description = pw.TextField(default="")
    args = JSONField(default=list)
    kwargs = JSONField(default=dict)
    cron = pw.CharField(max_length=128)
    timezone = pw.CharField(max_length=64, default="Asia/Kolkata")
    enabled = pw.BooleanField(default=True)
    paused = pw.BooleanField(default=False)
    paused_reason = pw.TextField(default="")
    timeout_s = pw.IntegerField(default=600)
    retries = pw.IntegerField(default=0)
    retry_delay_s = pw.IntegerField(default=60)
    misfire_policy = pw.CharField(max_length=8, default="once")
    max_lateness_min = pw.IntegerField(default=60)
    next_run_at = UTCDateTimeField(null=True, index=True)
    last_run_at = UTCDateTimeField(null=True)
    last_status = pw.CharField(max_length=16, null=True)
    last_success_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utc_now)
    updated_at = UTCDateTimeField(default=utc_now)


class JobRun(BaseModel):
    kind = pw.CharField(max_length=16, index=True)
    upload = pw.ForeignKeyField(Upload, null=True, backref="runs", on_delete="SET NULL")
    upload_id: Any
    job = pw.ForeignKeyField(Job, null=True, backref="runs", on_delete="SET NULL")
    job_id: Any
    job_name = pw.CharField(max_length=128, null=True)  # kept when the job is deleted
    trigger = pw.CharField(max_length=16, default="cli")
    status = pw.CharField(max_length=16, default="queued", index=True)
    attempt = pw.IntegerField(default=1)
    steps = JSONField(default=list)  # [{name, status, started_at, duration_s, rows_in, rows_out, message, ...}]
    findings = JSONField(default=list)
    log = pw.TextField(default="")
    exit_code = pw.IntegerField(null=True)
    error_code = pw.CharField(max_length=64, null=True)
    error_message = pw.TextField(null=True)
    failed_step = pw.CharField(max_length=32, null=True)
    result = JSONField(null=True)
    worker_id = pw.CharField(max_length=128, null=True)
    pid = pw.IntegerField(null=True)
    heartbeat_at = UTCDateTimeField(null=True)
    fire_time = UTCDateTimeField(null=True)
    catch_up = pw.BooleanField(default=False)
    rows_in = pw.BigIntegerField(null=True)
    rows_out = pw.BigIntegerField(null=True)
    queued_at = UTCDateTimeField(default=utc_now, index=True)
    started_at = UTCDateTimeField(null=True)
    finished_at = UTCDateTimeField(null=True)
    duration_s = pw.FloatField(null=True)


class ScheduleClaim(BaseModel):
    """One row per (job, fire time): the unique key makes dispatch exactly-once."""

    job = pw.ForeignKeyField(Job, backref="claims", on_delete="CASCADE")
    job_id: Any
    fire_time = UTCDateTimeField()
    claimed_at = UTCDateTimeField(default=utc_now)
    claimed_by = pw.CharField(max_length=128, default="")
    outcome = pw.CharField(max_length=16, default="enqueued")  # enqueued / skipped-overlap / skipped-missed
    run = pw.ForeignKeyField(JobRun, null=True, on_delete="SET NULL")
    run_id: Any

    class Meta:
        indexes = ((("job", "fire_time"), True),)


class KnownError(BaseModel):
    name = pw.CharField(max_length=128, unique=True)
    pattern = pw.TextField(default="")  # regex over the error message; empty matches any
    error_code = pw.CharField(max_length=64, null=True, index=True)
    step = pw.CharField(max_length=32, null=True)
    severity = pw.CharField(max_length=16, default="medium")
    root_cause = pw.TextField(default="")
    corrective_action = pw.TextField(default="")
    auto_retry = pw.BooleanField(default=False)
    retry_max = pw.IntegerField(default=0)
    retry_delay_s = pw.IntegerField(default=60)
    open_ticket = pw.BooleanField(default=True)
    builtin = pw.BooleanField(default=False)
    created_at = UTCDateTimeField(default=utc_now)
    updated_at = UTCDateTimeField(default=utc_now)


class Incident(BaseModel):
    title = pw.CharField(max_length=512)
    state = pw.CharField(max_length=16, default="open", index=True)
    severity = pw.CharField(max_length=16, default="medium", index=True)
    signature = pw.CharField(max_length=256, index=True)
    occurrences = pw.IntegerField(default=1)
    upload = pw.ForeignKeyField(Upload, null=True, backref="incidents", on_delete="SET NULL")
    upload_id: Any
    run = pw.ForeignKeyField(JobRun, null=True, backref="incidents", on_delete="SET NULL")
    run_id: Any
    job = pw.ForeignKeyField(Job, null=True, backref="incidents", on_delete="SET NULL")
    job_id: Any
    known_error = pw.ForeignKeyField(KnownError, null=True, backref="incidents", on_delete="SET NULL")
    known_error_id: Any
    previous = pw.ForeignKeyField("self", null=True, backref="followups", on_delete="SET NULL")
    previous_id: Any
    unknown_error = pw.BooleanField(default=False)
    error_code = pw.CharField(max_length=64, null=True)
    error_message = pw.TextField(default="")
    step = pw.CharField(max_length=32, null=True)
    assignee = pw.CharField(max_length=128, null=True)
    impact = pw.TextField(default="")
    root_cause = pw.TextField(default="")
    corrective_action = pw.TextField(default="")
    resolution = pw.TextField(default="")
    retry_count = pw.IntegerField(default=0)
    retry_max = pw.IntegerField(default=0)
    escalated = pw.BooleanField(default=False)
    first_seen = UTCDateTimeField(default=utc_now)
    last_seen = UTCDateTimeField(default=utc_now)
    opened_at = UTCDateTimeField(default=utc_now, index=True)
    acknowledged_at = UTCDateTimeField(null=True)
    resolved_at = UTCDateTimeField(null=True)
    archived_at = UTCDateTimeField(null=True)
    last_notified_at = UTCDateTimeField(null=True)
    updated_at = UTCDateTimeField(default=utc_now)


# One active incident per signature: triage counts a repeat instead of opening a twin. On SQLite
# the single writer already guaranteed it; on PostgreSQL this index is what holds it.
ACTIVE_INCIDENT_STATES = ("open", "assigned", "analyzing")
ONE_ACTIVE_INCIDENT_NAME = "incident_one_active_per_signature"
ONE_ACTIVE_INCIDENT = Incident.index(
    Incident.signature, unique=True, name=ONE_ACTIVE_INCIDENT_NAME, where=Incident.state.in_(ACTIVE_INCIDENT_STATES)
)
Incident.add_index(ONE_ACTIVE_INCIDENT)


class IncidentEvent(BaseModel):
    """The append-only timeline."""

    incident = pw.ForeignKeyField(Incident, backref="events", on_delete="CASCADE")
    incident_id: Any
    at = UTCDateTimeField(default=utc_now)
    actor = pw.CharField(max_length=128, default="batchops")
    kind = pw.CharField(max_length=32)
    from_state = pw.CharField(max_length=16, null=True)
    to_state = pw.CharField(max_length=16, null=True)
    message = pw.TextField(default="")
    run = pw.ForeignKeyField(JobRun, null=True, on_delete="SET NULL")
    run_id: Any


class Ticket(BaseModel):
    incident = pw.ForeignKeyField(Incident, backref="tickets", on_delete="CASCADE")
    incident_id: Any
    title = pw.CharField(max_length=512)
    state = pw.CharField(max_length=16, default="open", index=True)
    assignee = pw.CharField(max_length=128, null=True)
    resolution = pw.TextField(default="")
    created_at = UTCDateTimeField(default=utc_now)
    updated_at = UTCDateTimeField(default=utc_now)
    resolved_at = UTCDateTimeField(null=True)


class WorkerHeartbeat(BaseModel):
    worker_id = pw.CharField(max_length=128, unique=True)
    host = pw.CharField(max_length=256)
    pid = pw.IntegerField()
    workers = pw.IntegerField(default=1)
    started_at = UTCDateTimeField(default=utc_now)
    last_seen = UTCDateTimeField(default=utc_now, index=True)
    stopped_at = UTCDateTimeField(null=True)


class AppState(BaseModel):
    key = pw.CharField(max_length=128, primary_key=True)
    value = JSONField(null=True)
    updated_at = UTCDateTimeField(default=utc_now)


class SchemaVersion(BaseModel):
    version = pw.IntegerField()
    applied_at = UTCDateTimeField(default=utc_now)


ALL_MODELS = [
    Upload,
    Job,
    JobRun,
    ScheduleClaim,
    KnownError,
    Incident,
    IncidentEvent,
    Ticket,
    WorkerHeartbeat,
    AppState,
    SchemaVersion,
]
