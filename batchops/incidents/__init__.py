"""Incidents: triage of failed runs and the workflow state machine.

* ``triage`` - for every failed and every successful run: match known errors,
  de-duplicate by signature, open / update / re-open an incident, open a ticket,
  decide auto-retries and escalation, auto-resolve. It decides and records;
  ``services.failures`` acts on the decision (queue the retry, send notices).
* ``workflow`` - the state machine (open -> assigned -> analyzing -> resolved ->
  archived, retry from the active states) and the append-only timeline.

Nothing here imports pandas or Textual: the CLI's incident commands stay light.
"""
