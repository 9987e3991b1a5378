"""Incidents: triage of failed runs, the workflow state machine, notifications.

* ``triage`` - called by the services for every failed and every successful run:
  match known errors, de-duplicate by signature, open / update / re-open an
  incident, open a ticket, schedule auto-retries, escalate, auto-resolve.
* ``workflow`` - the state machine (open -> assigned -> analyzing -> resolved ->
  archived, retry from the active states) and the append-only timeline.
* ``notify`` - e-mail and webhooks through the outbox, without alert storms.

Nothing here imports pandas or Textual: the CLI's incident commands stay light.
"""
