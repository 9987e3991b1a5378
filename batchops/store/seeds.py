"""Seeds: the six default jobs and the known-error library. Idempotent.

Seeding inserts what is missing by name and never overwrites what an operator
changed. Jobs that need a target (recipients, URL, folder) start paused and
say what to configure.
"""

from __future__ import annotations

from batchops.store.db import db, lock
from batchops.store.models import AppState, Job, KnownError

SEED_LOCK = "batchops:seeds"  # two `init` at once on PostgreSQL: one inserts, the other finds it done

# name, callable, cron, description, needs (config key that must be set, or None)
DEFAULT_JOBS = [
    (
        "attendance-reminders",
        "send_attendance_reminders",
        "30 9 * * 1-6",
        "Email the guardian of every student marked absent today (once per student and day).",
        "automation.attendance_path",
    ),
    (
        "status-digest",
        "send_system_status_digest",
        "0 8 * * *",
        "Morning digest: health, yesterday's runs, open incidents, next jobs.",
        None,
    ),
    (
        "notice-board-scrape",
        "run_web_scrape",
        "0 */6 * * *",
        "Fetch the configured notice pages and report new notices.",
        "automation.scrape_urls",
    ),
    (
        "drop-folder-ingest",
        "schedule_file_ingest",
        "*/15 * * * *",
        "Pick up new gradebooks from the drop folder and run the pipeline.",
        "automation.ingest_folder",
    ),
    (
        "purge-old-records",
        "purge_old_records",
        "30 2 * * 0",
        "Apply the retention settings, then VACUUM.",
        None,
    ),
    (
        "daily-backup",
        "run_daily_backup",
        "0 2 * * *",
        "Consistent snapshot of the store and queue into backups/, verified and rotated.",
        None,
    ),
]

# (name, error_code, pattern, step, severity, root cause, corrective action, auto_retry, retry_max, delay_s, open_ticket)
KNOWN_ERRORS = [
    ("Missing required columns", "E_MISSING_COLUMNS", "", "validate", "high",
     "The file lacks columns the department requires (often a different export template or renamed headers).",
     "Ask the department for the standard template, or add the header to [synonyms] in batchops.toml, then retry.",
     False, 0, 0, True),
    ("No data rows", "E_NO_ROWS", "", None, "medium",
     "The file has a header but no student rows (an empty export or the wrong sheet).",
     "Re-export with the data, or choose the right sheet with --sheet.", False, 0, 0, True),
    ("Empty file", "E_EMPTY_FILE", "", "standardize", "medium",
     "The uploaded file is zero bytes: the transfer or export was interrupted.",
     "Upload the file again from the source system.", False, 0, 0, True),
    ("PDF without a table", "E_PDF_NO_TABLE", "", "standardize", "medium",
     "The PDF has text but no table BatchOps can read (a letter or a notice rather than a gradebook).",
     "Ask for the gradebook as CSV/XLSX or a PDF with a ruled or aligned table.", False, 0, 0, True),
    ("Scanned PDF (no text layer)", "E_PDF_NO_TEXT", "", "standardize", "medium",
     "The PDF is an image scan with no text layer, and OCR is off (pipeline.ocr = never) or found no text.",
     "Allow OCR (--ocr auto), rescan at 300 dpi, or ask for the original export.", False, 0, 0, True),
    ("Scan read with doubt", "E_OCR_LOW_CONFIDENCE", "", "standardize", "medium",
     "OCR could not read some IDs, marks or headers of the scan with confidence; nothing was published.",
     "Rescan the pages at 300 dpi (flat, straight, good light), or ask for the spreadsheet the marks came from. "
     "The run's findings list each doubtful cell by page and row.", False, 0, 0, True),
    ("OCR engine missing", "E_OCR_UNAVAILABLE", "", "standardize", "high",
     "The machine has no Tesseract OCR engine (or its English data), so scans cannot be read.",
     "Install it: apt-get install tesseract-ocr (Debian/Ubuntu), then retry the run.", False, 0, 0, True),
    ("Encrypted PDF", "E_PDF_ENCRYPTED", "", "standardize", "medium",
     "The PDF is password-protected.", "Ask the sender for an unprotected copy.", False, 0, 0, True),
    ("Damaged PDF", "E_PDF_DAMAGED", "", "standardize", "medium",
     "The PDF is truncated or corrupt.", "Upload the file again; if it persists, re-export it.",
     False, 0, 0, True),
    ("PDF with several tables", "E_PDF_MANY_TABLES", "", "standardize", "medium",
     "The PDF holds more than one table and none has exactly the department's required columns; BatchOps "
     "will not stitch them together or guess.",
     "Read the list of tables in the error, then process again with --table N (TUI: Table field), or set the "
     "department so its required columns pick the table.", False, 0, 0, True),
    ("PDF table number not found", "E_PDF_TABLE_NOT_FOUND", "", "standardize", "low",
     "--table N names a table the PDF does not have.",
     "Use a number from the list in the error message and process again.", False, 0, 0, False),
    ("PDF with columns spilled across pages", "E_PDF_SPILLED_COLUMNS", "", "standardize", "medium",
     "A spreadsheet was printed to PDF with its columns running onto later pages, and the pages cannot be "
     "joined back row for row.",
     "Ask for the sheet itself, exported as CSV or XLSX (or printed 'fit all columns on one page').",
     False, 0, 0, True),
    ("Table read with low confidence", "E_TABLE_LOW_CONFIDENCE", "", "standardize", "high",
     "The table read from the file does not look like a clean table (cells holding several numbers or whole "
     "lines, one-cell rows, the header repeated, a data row as header, rotated text, prose); publishing it "
     "could publish wrong data. The run's findings name the rows that tripped the check.",
     "Open the file and the findings. If another table is the right one, process with --table N; better, "
     "export the sheet as CSV/XLSX. Only if you have checked the table and it is right, process again with "
     "--force-publish.", False, 0, 0, True),
    ("Unreadable workbook", "E_XLSX_UNREADABLE", "", "standardize", "medium",
     "The Excel file is truncated, corrupt or not really a workbook.",
     "Open and re-save it in Excel as .xlsx, then upload again.", False, 0, 0, True),
    ("Workbook too large uncompressed", "E_XLSX_TOO_LARGE", "", "standardize", "high",
     "The workbook expands far beyond the configured limit (possibly a zip bomb).",
     "Check where the file came from; raise pipeline.max_xlsx_uncompressed_mb only if it is genuine.",
     False, 0, 0, True),
    ("Password-protected workbook", "E_WORKBOOK_ENCRYPTED", "", "standardize", "medium",
     "The workbook is encrypted with a password; nothing in it can be read without the password.",
     "Ask the sender to remove the password (or export the sheet as CSV) and upload again.",
     False, 0, 0, True),
    ("Several tables on one sheet", "E_MULTIPLE_TABLES", "", "standardize", "medium",
     "The sheet holds separate tables and none (or more than one) has the required columns; BatchOps "
     "will not join them or guess which one is meant.",
     "Move the table to publish onto a sheet of its own and choose it with --sheet, or export it as CSV.",
     False, 0, 0, True),
    ("Text encoding not recognised", "E_BAD_ENCODING", "", "standardize", "medium",
     "BatchOps could not tell the file's text encoding for sure (two code pages read it equally well), "
     "or the file is not valid text in the encoding it seems to use.",
     "Ask which language/system exported it and run again with --encoding (cp1252 Western, iso-8859-7 "
     "Greek, cp1251 Cyrillic, cp1250 Central European), or export it as CSV UTF-8.", False, 0, 0, True),
    ("Unsupported or garbage file", "E_UNSUPPORTED_FORMAT", "", "standardize", "medium",
     "The content is not CSV, XLSX or PDF whatever its name says.",
     "Check the file; upload the real gradebook export.", False, 0, 0, True),
    ("File too large", "E_FILE_TOO_LARGE", "", "standardize", "medium",
     "The file exceeds pipeline.max_file_mb.", "Split the file, or raise the limit in batchops.toml.",
     False, 0, 0, True),
    ("Too many rows", "E_TOO_MANY_ROWS", "", "standardize", "medium",
     "The file has more rows than pipeline.max_rows.", "Split the file or raise the limit.",
     False, 0, 0, True),
    ("Too many columns", "E_TOO_MANY_COLUMNS", "", "standardize", "medium",
     "The file has more columns than pipeline.max_columns (often a wrong delimiter or a pivoted export).",
     "Check the export settings; raise the limit only if genuine.", False, 0, 0, True),
    ("Unknown column in amendment", "E_UNKNOWN_COLUMN", "", "transform", "low",
     "Records or rules name a column the file does not have.",
     "Fix the column name in the records/rules (see the upload's columns) and retry.", False, 0, 0, False),
    ("Plan changed nothing (strict)", "E_PLAN_NO_EFFECT", "", "transform", "low",
     "A strict run's plan changed nothing it was asked to change (e.g. a delete rule matched no row).",
     "Check the rule's value against the file (ids, spelling) and retry with the corrected rule.",
     False, 0, 0, False),
    ("Database busy", "E_DB_LOCKED", r"database is locked|database table is locked|busy", None, "low",
     "Another process held the store's write lock longer than the busy timeout.",
     "Usually transient: BatchOps retries automatically.", True, 3, 30, False),
    ("Worker lost", "E_WORKER_LOST", "", None, "high",
     "The worker running this stopped sending heartbeats (killed, OOM or reboot).",
     "Check the machine (dmesg for OOM kills); the run is retried automatically.", True, 2, 60, True),
    ("Submission lost", "E_SUBMIT_LOST", "", None, "high",
     "A file was taken in but its run never started (the submitting process was killed), and the stored "
     "original is missing or damaged, so it cannot be run again.",
     "Upload the file again from the source; check the data home's files/ folder (disk, restore).",
     False, 0, 0, True),
    ("Job timeout", "E_JOB_TIMEOUT", "", None, "medium",
     "The job ran longer than its timeout.", "Raise the job's timeout or investigate what it waits on.",
     True, 1, 300, True),
    ("Network fetch failed", "E_FETCH_FAILED", r"timed out|connection|refused|unreachable|resolve", None,
     "low", "A remote server (notice board, FTP, SMTP) did not answer.",
     "Usually transient: retried automatically. Check the URL if it persists.", True, 3, 120, False),
    ("Disk full", "E_DISK_FULL", "", None, "critical",
     "The disk holding the data home (or the export folder) has no space left.",
     "Free space (old exports, backups, logs) or move the data home; then retry the run.", False, 0, 0, True),
    ("Private address refused", "E_URL_FORBIDDEN", "", None, "medium",
     "A scrape URL (or a redirect from it) points at a private, loopback or link-local address.",
     "If the page really is on the intranet, add its host to automation.scrape_allow_hosts.", False, 0, 0, True),
    ("Path outside allowed folders", "E_PATH_NOT_ALLOWED", "", None, "high",
     "A job argument names a folder outside the configured ones (someone edited the job?).",
     "Check who changed the job; add the folder to automation.path_roots only if it is meant.", False, 0, 0, True),
    ("URL password not encoded", "E_URL_INVALID", "", None, "low",
     "A URL's password holds /, ? or # unencoded, so it cannot be parsed safely.",
     "Percent-encode the password (/ %2F, ? %3F, # %23, @ %40) or move it to the environment.", False, 0, 0, True),
    ("Object storage unreachable", "E_STORAGE_UNREACHABLE", "", None, "high",
     "The S3 server of storage.url did not answer or failed (network, endpoint_url, server down).",
     "Check storage.endpoint_url and the S3 server (batchops health); retried automatically.", True, 3, 120, True),
    ("Storage bucket missing", "E_STORAGE_NO_BUCKET", "", None, "high",
     "The bucket named in storage.url (or automation.ingest_s3_url) does not exist on the S3 server.",
     "Create the bucket or correct the URL, then retry.", False, 0, 0, True),
    ("Storage access denied", "E_STORAGE_DENIED", "", None, "high",
     "The S3 server refused the credentials for the bucket.",
     "Check storage.access_key_id and the secret (storage.secret_key_env/_file), then retry.", False, 0, 0, True),
    ("Stored file missing", "E_OBJECT_MISSING", "", None, "high",
     "A file the store names (an original or a report) is not in the data home or the bucket.",
     "Restore it from a backup or upload the file again; check storage.url is the same on every machine.",
     False, 0, 0, True),
    ("Database server unreachable", "E_DB_UNREACHABLE", "", None, "high",
     "The PostgreSQL server named by database.url did not answer (down, restarting, or a network problem).",
     "Check the server and the network; retried automatically.", True, 3, 60, True),
    ("Queue server unreachable", "E_QUEUE_UNAVAILABLE", "", None, "high",
     "The Redis server named by queue.url did not answer.",
     "Check the server and the network; retried automatically.", True, 3, 60, True),
    ("Backup tool missing", "E_BACKUP_TOOL_MISSING", "", None, "high",
     "pg_dump/pg_restore are not installed on the machine that ran the backup.",
     "Install the PostgreSQL client tools of the server's version (apt-get install postgresql-client).",
     False, 0, 0, True),
    ("Backup failed", "E_BACKUP_FAILED", "", None, "high",
     "pg_dump could not take the snapshot (server unreachable, permissions, or an older pg_dump than the server).",
     "Read the message; run `batchops backup` by hand once fixed.", True, 1, 300, True),
    ("Mail delivery failed", "E_SMTP_FAILED", "", None, "medium",
     "The SMTP server refused or did not answer; messages wait in the outbox.",
     "Check [smtp] settings and the password source; the outbox is retried.", True, 3, 300, True),
]


def seed_known_errors() -> int:
    created = 0
    with db.atomic():
        lock(SEED_LOCK)
        for (name, code, pattern, step, severity, cause, action, retry, rmax, delay, ticket) in KNOWN_ERRORS:
            if KnownError.select().where(KnownError.name == name).exists():
                continue
            KnownError.create(
                name=name, error_code=code, pattern=pattern, step=step, severity=severity,
                root_cause=cause, corrective_action=action, auto_retry=retry, retry_max=rmax,
                retry_delay_s=delay, open_ticket=ticket, builtin=True,
            )
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
        for name, func, cron, description, needs in DEFAULT_JOBS:
            if name in seeded or Job.select().where(Job.name == name).exists():
                seeded.add(name)
                continue
            seeded.add(name)
            configured = _is_configured(cfg, needs)
            Job.create(
                name=name,
                callable=func,
                cron=cron,
                description=description,
                timezone=cfg.display_timezone,
                paused=not configured,
                paused_reason="" if configured else f"set {needs} in batchops.toml, then resume",
                misfire_policy=cfg.worker.default_missed_policy,
                next_run_at=next_fire_time(cron, cfg.display_timezone),
            )
            created += 1
        AppState.update(value=sorted(seeded)).where(AppState.key == "seeded_jobs").execute()
    return created
