"""Seeds: the six default jobs and the known-error library. Idempotent.

Seeding inserts what is missing by name and never overwrites what an operator
changed. Jobs that need a target (recipients, URL, folder) start paused and
say what to configure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from batchops.store.db import db, lock
from batchops.store.models import AppState, Job, KnownError

SEED_LOCK = "batchops:seeds"  # two `init` at once on PostgreSQL: one inserts, the other finds it done


@dataclass(frozen=True)
class JobSeed:
    """A default job; ``needs`` names the config key that must be set before it may run (else it starts paused)."""

    name: str
    callable: str
    cron: str
    description: str
    needs: str | None = None


@dataclass(frozen=True)
class KnownErrorSeed:
    """A built-in known error; the field names are the KnownError columns it fills."""

    name: str
    error_code: str
    severity: str
    root_cause: str
    corrective_action: str
    pattern: str = ""  # regex over the error message; empty matches any message with the code
    step: str | None = None
    auto_retry: bool = False
    retry_max: int = 0
    retry_delay_s: int = 0
    open_ticket: bool = True


DEFAULT_JOBS = [
    JobSeed(
        name="attendance-reminders",
        callable="send_attendance_reminders",
        cron="30 9 * * 1-6",
        description="Email the guardian of every student marked absent today (once per student and day).",
        needs="automation.attendance_path",
    ),
    JobSeed(
        name="status-digest",
        callable="send_system_status_digest",
        cron="0 8 * * *",
        description="Morning digest: health, yesterday's runs, open incidents, next jobs.",
    ),
    JobSeed(
        name="notice-board-scrape",
        callable="run_web_scrape",
        cron="0 */6 * * *",
        description="Fetch the configured notice pages and report new notices.",
        needs="automation.scrape_urls",
    ),
    JobSeed(
        name="drop-folder-ingest",
        callable="schedule_file_ingest",
        cron="*/15 * * * *",
        description="Pick up new gradebooks from the drop folder and run the pipeline.",
        needs="automation.ingest_folder",
    ),
    JobSeed(
        name="purge-old-records",
        callable="purge_old_records",
        cron="30 2 * * 0",
        description="Apply the retention settings, then VACUUM.",
    ),
    JobSeed(
        name="daily-backup",
        callable="run_daily_backup",
        cron="0 2 * * *",
        description="Consistent snapshot of the store and queue into backups/, verified and rotated.",
    ),
]

KNOWN_ERRORS = [
    KnownErrorSeed(
        name="Missing required columns",
        error_code="E_MISSING_COLUMNS",
        step="validate",
        severity="high",
        root_cause=(
            "The file lacks columns the department requires (often a different export template or renamed headers)."
        ),
        corrective_action=(
            "Ask the department for the standard template, or add "
            "the header to [synonyms] in batchops.toml, then retry."
        ),
    ),
    KnownErrorSeed(
        name="No data rows",
        error_code="E_NO_ROWS",
        severity="medium",
        root_cause="The file has a header but no student rows (an empty export or the wrong sheet).",
        corrective_action="Re-export with the data, or choose the right sheet with --sheet.",
    ),
    KnownErrorSeed(
        name="Empty file",
        error_code="E_EMPTY_FILE",
        step="standardize",
        severity="medium",
        root_cause="The uploaded file is zero bytes: the transfer or export was interrupted.",
        corrective_action="Upload the file again from the source system.",
    ),
    KnownErrorSeed(
        name="PDF without a table",
        error_code="E_PDF_NO_TABLE",
        step="standardize",
        severity="medium",
        root_cause="The PDF has text but no table BatchOps can read (a letter or a notice rather than a gradebook).",
        corrective_action="Ask for the gradebook as CSV/XLSX or a PDF with a ruled or aligned table.",
    ),
    KnownErrorSeed(
        name="Scanned PDF (no text layer)",
        error_code="E_PDF_NO_TEXT",
        step="standardize",
        severity="medium",
        root_cause=(
            "The PDF is an image scan with no text layer, and OCR is off (pipeline.ocr = never) or found no text."
        ),
        corrective_action="Allow OCR (--ocr auto), rescan at 300 dpi, or ask for the original export.",
    ),
    KnownErrorSeed(
        name="Scan read with doubt",
        error_code="E_OCR_LOW_CONFIDENCE",
        step="standardize",
        severity="medium",
        root_cause=(
            "OCR could not read some IDs, marks or headers of the scan with confidence; nothing was published."
        ),
        corrective_action=(
            "Rescan the pages at 300 dpi (flat, straight, good light), or ask for the spreadsheet "
            "the marks came from. The run's findings list each doubtful cell by page and row."
        ),
    ),
    KnownErrorSeed(
        name="OCR engine missing",
        error_code="E_OCR_UNAVAILABLE",
        step="standardize",
        severity="high",
        root_cause="The machine has no Tesseract OCR engine (or its English data), so scans cannot be read.",
        corrective_action="Install it: apt-get install tesseract-ocr (Debian/Ubuntu), then retry the run.",
    ),
    KnownErrorSeed(
        name="Encrypted PDF",
        error_code="E_PDF_ENCRYPTED",
        step="standardize",
        severity="medium",
        root_cause="The PDF is password-protected.",
        corrective_action="Ask the sender for an unprotected copy.",
    ),
    KnownErrorSeed(
        name="Damaged PDF",
        error_code="E_PDF_DAMAGED",
        step="standardize",
        severity="medium",
        root_cause="The PDF is truncated or corrupt.",
        corrective_action="Upload the file again; if it persists, re-export it.",
    ),
    KnownErrorSeed(
        name="PDF with several tables",
        error_code="E_PDF_MANY_TABLES",
        step="standardize",
        severity="medium",
        root_cause=(
            "The PDF holds more than one table and none has exactly the department's "
            "required columns; BatchOps will not stitch them together or guess."
        ),
        corrective_action=(
            "Read the list of tables in the error, then process again with --table N (TUI: "
            "Table field), or set the department so its required columns pick the table."
        ),
    ),
    KnownErrorSeed(
        name="PDF table number not found",
        error_code="E_PDF_TABLE_NOT_FOUND",
        step="standardize",
        severity="low",
        root_cause="--table N names a table the PDF does not have.",
        corrective_action="Use a number from the list in the error message and process again.",
        open_ticket=False,
    ),
    KnownErrorSeed(
        name="PDF with columns spilled across pages",
        error_code="E_PDF_SPILLED_COLUMNS",
        step="standardize",
        severity="medium",
        root_cause=(
            "A spreadsheet was printed to PDF with its columns running onto "
            "later pages, and the pages cannot be joined back row for row."
        ),
        corrective_action=(
            "Ask for the sheet itself, exported as CSV or XLSX (or printed 'fit all columns on one page')."
        ),
    ),
    KnownErrorSeed(
        name="Table read with low confidence",
        error_code="E_TABLE_LOW_CONFIDENCE",
        step="standardize",
        severity="high",
        root_cause=(
            "The table read from the file does not look like a clean table (cells "
            "holding several numbers or whole lines, one-cell rows, the header repeated, "
            "a data row as header, rotated text, prose); publishing it could publish "
            "wrong data. The run's findings name the rows that tripped the check."
        ),
        corrective_action=(
            "Open the file and the findings. If another table is the right one, process "
            "with --table N; better, export the sheet as CSV/XLSX. Only if you have "
            "checked the table and it is right, process again with --force-publish."
        ),
    ),
    KnownErrorSeed(
        name="Unreadable workbook",
        error_code="E_XLSX_UNREADABLE",
        step="standardize",
        severity="medium",
        root_cause="The Excel file is truncated, corrupt or not really a workbook.",
        corrective_action="Open and re-save it in Excel as .xlsx, then upload again.",
    ),
    KnownErrorSeed(
        name="Workbook too large uncompressed",
        error_code="E_XLSX_TOO_LARGE",
        step="standardize",
        severity="high",
        root_cause="The workbook expands far beyond the configured limit (possibly a zip bomb).",
        corrective_action=(
            "Check where the file came from; raise pipeline.max_xlsx_uncompressed_mb only if it is genuine."
        ),
    ),
    KnownErrorSeed(
        name="Password-protected workbook",
        error_code="E_WORKBOOK_ENCRYPTED",
        step="standardize",
        severity="medium",
        root_cause="The workbook is encrypted with a password; nothing in it can be read without the password.",
        corrective_action="Ask the sender to remove the password (or export the sheet as CSV) and upload again.",
    ),
    KnownErrorSeed(
        name="Several tables on one sheet",
        error_code="E_MULTIPLE_TABLES",
        step="standardize",
        severity="medium",
        root_cause=(
            "The sheet holds separate tables and none (or more than one) has the "
            "required columns; BatchOps will not join them or guess which one is meant."
        ),
        corrective_action=(
            "Move the table to publish onto a sheet of its own and choose it with --sheet, or export it as CSV."
        ),
    ),
    KnownErrorSeed(
        name="Text encoding not recognised",
        error_code="E_BAD_ENCODING",
        step="standardize",
        severity="medium",
        root_cause=(
            "BatchOps could not tell the file's text encoding for sure (two code pages read "
            "it equally well), or the file is not valid text in the encoding it seems to use."
        ),
        corrective_action=(
            "Ask which language/system exported it and run again with --encoding (cp1252 Western, "
            "iso-8859-7 Greek, cp1251 Cyrillic, cp1250 Central European), or export it as CSV UTF-8."
        ),
    ),
    KnownErrorSeed(
        name="Unsupported or garbage file",
        error_code="E_UNSUPPORTED_FORMAT",
        step="standardize",
        severity="medium",
        root_cause="The content is not CSV, XLSX or PDF whatever its name says.",
        corrective_action="Check the file; upload the real gradebook export.",
    ),
    KnownErrorSeed(
        name="File too large",
        error_code="E_FILE_TOO_LARGE",
        step="standardize",
        severity="medium",
        root_cause="The file exceeds pipeline.max_file_mb.",
        corrective_action="Split the file, or raise the limit in batchops.toml.",
    ),
    KnownErrorSeed(
        name="Too many rows",
        error_code="E_TOO_MANY_ROWS",
        step="standardize",
        severity="medium",
        root_cause="The file has more rows than pipeline.max_rows.",
        corrective_action="Split the file or raise the limit.",
    ),
    KnownErrorSeed(
        name="Too many columns",
        error_code="E_TOO_MANY_COLUMNS",
        step="standardize",
        severity="medium",
        root_cause=(
            "The file has more columns than pipeline.max_columns (often a wrong delimiter or a pivoted export)."
        ),
        corrective_action="Check the export settings; raise the limit only if genuine.",
    ),
    KnownErrorSeed(
        name="Unknown column in amendment",
        error_code="E_UNKNOWN_COLUMN",
        step="transform",
        severity="low",
        root_cause="Records or rules name a column the file does not have.",
        corrective_action="Fix the column name in the records/rules (see the upload's columns) and retry.",
        open_ticket=False,
    ),
    KnownErrorSeed(
        name="Plan changed nothing (strict)",
        error_code="E_PLAN_NO_EFFECT",
        step="transform",
        severity="low",
        root_cause="A strict run's plan changed nothing it was asked to change (e.g. a delete rule matched no row).",
        corrective_action=(
            "Check the rule's value against the file (ids, spelling) and retry with the corrected rule."
        ),
        open_ticket=False,
    ),
    KnownErrorSeed(
        name="Database busy",
        error_code="E_DB_LOCKED",
        pattern="database is locked|database table is locked|busy",
        severity="low",
        root_cause="Another process held the store's write lock longer than the busy timeout.",
        corrective_action="Usually transient: BatchOps retries automatically.",
        auto_retry=True,
        retry_max=3,
        retry_delay_s=30,
        open_ticket=False,
    ),
    KnownErrorSeed(
        name="Worker lost",
        error_code="E_WORKER_LOST",
        severity="high",
        root_cause="The worker running this stopped sending heartbeats (killed, OOM or reboot).",
        corrective_action="Check the machine (dmesg for OOM kills); the run is retried automatically.",
        auto_retry=True,
        retry_max=2,
        retry_delay_s=60,
    ),
    KnownErrorSeed(
        name="Submission lost",
        error_code="E_SUBMIT_LOST",
        severity="high",
        root_cause=(
            "A file was taken in but its run never started (the submitting process was killed), "
            "and the stored original is missing or damaged, so it cannot be run again."
        ),
        corrective_action=(
            "Upload the file again from the source; check the data home's files/ folder (disk, restore)."
        ),
    ),
    KnownErrorSeed(
        name="Job timeout",
        error_code="E_JOB_TIMEOUT",
        severity="medium",
        root_cause="The job ran longer than its timeout.",
        corrective_action="Raise the job's timeout or investigate what it waits on.",
        auto_retry=True,
        retry_max=1,
        retry_delay_s=300,
    ),
    KnownErrorSeed(
        name="Network fetch failed",
        error_code="E_FETCH_FAILED",
        pattern="timed out|connection|refused|unreachable|resolve",
        severity="low",
        root_cause="A remote server (notice board, FTP, SMTP) did not answer.",
        corrective_action="Usually transient: retried automatically. Check the URL if it persists.",
        auto_retry=True,
        retry_max=3,
        retry_delay_s=120,
        open_ticket=False,
    ),
    KnownErrorSeed(
        name="Disk full",
        error_code="E_DISK_FULL",
        severity="critical",
        root_cause="The disk holding the data home (or the export folder) has no space left.",
        corrective_action="Free space (old exports, backups, logs) or move the data home; then retry the run.",
    ),
    KnownErrorSeed(
        name="Private address refused",
        error_code="E_URL_FORBIDDEN",
        severity="medium",
        root_cause="A scrape URL (or a redirect from it) points at a private, loopback or link-local address.",
        corrective_action="If the page really is on the intranet, add its host to automation.scrape_allow_hosts.",
    ),
    KnownErrorSeed(
        name="Path outside allowed folders",
        error_code="E_PATH_NOT_ALLOWED",
        severity="high",
        root_cause="A job argument names a folder outside the configured ones (someone edited the job?).",
        corrective_action="Check who changed the job; add the folder to automation.path_roots only if it is meant.",
    ),
    KnownErrorSeed(
        name="URL password not encoded",
        error_code="E_URL_INVALID",
        severity="low",
        root_cause="A URL's password holds /, ? or # unencoded, so it cannot be parsed safely.",
        corrective_action="Percent-encode the password (/ %2F, ? %3F, # %23, @ %40) or move it to the environment.",
    ),
    KnownErrorSeed(
        name="Object storage unreachable",
        error_code="E_STORAGE_UNREACHABLE",
        severity="high",
        root_cause="The S3 server of storage.url did not answer or failed (network, endpoint_url, server down).",
        corrective_action="Check storage.endpoint_url and the S3 server (batchops health); retried automatically.",
        auto_retry=True,
        retry_max=3,
        retry_delay_s=120,
    ),
    KnownErrorSeed(
        name="Storage bucket missing",
        error_code="E_STORAGE_NO_BUCKET",
        severity="high",
        root_cause="The bucket named in storage.url (or automation.ingest_s3_url) does not exist on the S3 server.",
        corrective_action="Create the bucket or correct the URL, then retry.",
    ),
    KnownErrorSeed(
        name="Storage access denied",
        error_code="E_STORAGE_DENIED",
        severity="high",
        root_cause="The S3 server refused the credentials for the bucket.",
        corrective_action="Check storage.access_key_id and the secret (storage.secret_key_env/_file), then retry.",
    ),
    KnownErrorSeed(
        name="Stored file missing",
        error_code="E_OBJECT_MISSING",
        severity="high",
        root_cause="A file the store names (an original or a report) is not in the data home or the bucket.",
        corrective_action=(
            "Restore it from a backup or upload the file again; check storage.url is the same on every machine."
        ),
    ),
    KnownErrorSeed(
        name="Database server unreachable",
        error_code="E_DB_UNREACHABLE",
        severity="high",
        root_cause=(
            "The PostgreSQL server named by database.url did not answer (down, restarting, or a network problem)."
        ),
        corrective_action="Check the server and the network; retried automatically.",
        auto_retry=True,
        retry_max=3,
        retry_delay_s=60,
    ),
    KnownErrorSeed(
        name="Queue server unreachable",
        error_code="E_QUEUE_UNAVAILABLE",
        severity="high",
        root_cause="The Redis server named by queue.url did not answer.",
        corrective_action="Check the server and the network; retried automatically.",
        auto_retry=True,
        retry_max=3,
        retry_delay_s=60,
    ),
    KnownErrorSeed(
        name="Backup tool missing",
        error_code="E_BACKUP_TOOL_MISSING",
        severity="high",
        root_cause="pg_dump/pg_restore are not installed on the machine that ran the backup.",
        corrective_action=(
            "Install the PostgreSQL client tools of the server's version (apt-get install postgresql-client)."
        ),
    ),
    KnownErrorSeed(
        name="Backup failed",
        error_code="E_BACKUP_FAILED",
        severity="high",
        root_cause=(
            "pg_dump could not take the snapshot (server unreachable, "
            "permissions, or an older pg_dump than the server)."
        ),
        corrective_action="Read the message; run `batchops backup` by hand once fixed.",
        auto_retry=True,
        retry_max=1,
        retry_delay_s=300,
    ),
    KnownErrorSeed(
        name="Mail delivery failed",
        error_code="E_SMTP_FAILED",
        severity="medium",
        root_cause="The SMTP server refused or did not answer; messages wait in the outbox.",
        corrective_action="Check [smtp] settings and the password source; the outbox is retried.",
        auto_retry=True,
        retry_max=3,
        retry_delay_s=300,
    ),
]


def seed_known_errors() -> int:
    created = 0
    with db.atomic():
        lock(SEED_LOCK)
        for seed in KNOWN_ERRORS:
            if KnownError.select().where(KnownError.name == seed.name).exists():
                continue
            KnownError.create(**asdict(seed), builtin=True)
            created += 1
    return created


def _is_configured(cfg, dotted: str | None) -> bool:
    if dotted is None:
        return True
    section, key = dotted.split(".")
    return bool(getattr(getattr(cfg, section), key))


def seed_jobs(cfg) -> int:
    from batchops.cron import next_fire_time

    created = 0
    with db.atomic():
        lock(SEED_LOCK)
        # Remember what was seeded once, so a default job the operator deleted stays deleted.
        state, _ = AppState.get_or_create(key="seeded_jobs", defaults={"value": []})
        seeded = set(state.value or [])
        for seed in DEFAULT_JOBS:
            if seed.name in seeded or Job.select().where(Job.name == seed.name).exists():
                seeded.add(seed.name)
                continue
            seeded.add(seed.name)
            configured = _is_configured(cfg, seed.needs)
            Job.create(
                name=seed.name,
                callable=seed.callable,
                cron=seed.cron,
                description=seed.description,
                timezone=cfg.display_timezone,
                paused=not configured,
                paused_reason="" if configured else f"set {seed.needs} in batchops.toml, then resume",
                misfire_policy=cfg.worker.default_missed_policy,
                next_run_at=next_fire_time(seed.cron, cfg.display_timezone),
            )
            created += 1
        AppState.update(value=sorted(seeded)).where(AppState.key == "seeded_jobs").execute()
    return created
