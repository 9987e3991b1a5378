"""What the incident screen shows, from the incident dict alone (no app needed)."""

from __future__ import annotations

from batchops.tui.screens.incident_detail import known_error_pairs, overview_pairs, timeline_row


def test_overview_names_the_links_and_leaves_dashes_for_the_missing():
    pairs = dict(
        overview_pairs(
            {
                "id": 3,
                "error_code": "E_NO_ROWS",
                "error_message": "no rows",
                "step": "validate",
                "upload": {"id": 4, "original_name": "a.csv", "status": "failed"},
                "run_id": 12,
                "previous_id": 1,
                "followup_ids": [5, 6],
            }
        )
    )
    assert pairs["Error"] == "E_NO_ROWS: no rows (step validate)"
    assert pairs["Upload"] == "#4 a.csv (failed)" and pairs["Run"] == "#12" and pairs["Job"] == "-"
    assert pairs["Assignee"] == pairs["Root cause"] == pairs["Resolution"] == "-"
    assert pairs["Related"] == "previous #1; follow-ups #5, #6"
    assert "Related" not in dict(overview_pairs({"id": 2}))


def test_timeline_shows_a_move_only_when_the_state_changed():
    moved = timeline_row({"from_state": "open", "to_state": "acknowledged", "actor": "op", "kind": "assign"})
    stayed = timeline_row({"from_state": "open", "to_state": "open", "kind": "note"})
    assert moved[1:4] == ("op", "assign", "open → acknowledged")
    assert stayed[1:4] == ("-", "note", "open")


def test_known_error_or_how_to_teach_one():
    assert known_error_pairs(None)[0][1].plain.startswith("no known error matched")
    pairs = dict(known_error_pairs({"name": "locked", "auto_retry": True, "retry_max": 2, "retry_delay_s": 60}))
    assert pairs["Matches"] == "code any, pattern (any message)"
    assert pairs["Auto-retry"] == "up to 2 after 60 s"
