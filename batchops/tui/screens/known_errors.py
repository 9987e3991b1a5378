"""Known errors: the failures BatchOps recognises, and a tester for new messages."""

from __future__ import annotations

from textual.binding import Binding

from batchops.services import known_errors
from batchops.tui import display
from batchops.tui.messages import ActionDone
from batchops.tui.screens.base import ListScreen


class KnownErrorsScreen(ListScreen):
    AREA = "known_errors"
    HELP = (
        "The known-error library triage matches failures against (error code, regex, step). "
        "Enter shows one with its past matches; m tests a message before you teach BatchOps a new one."
    )
    COLUMNS = [
        ("id", "ID"),
        ("name", "Name"),
        ("code", "Code"),
        ("step", "Step"),
        ("severity", "Severity"),
        ("pattern", "Pattern"),
        ("retry", "Auto-retry"),
        ("builtin", "Built-in"),
    ]
    BINDINGS = [Binding("m", "test_message", "Test a message")]

    def on_mount(self) -> None:
        super().on_mount()
        self.pager.page_size = 10_000

    def cells(self, row: dict) -> list:
        retry = f"{row.get('retry_max')}× / {row.get('retry_delay_s')} s" if row.get("auto_retry") else "no"
        return [
            str(row["id"]),
            display.text(row.get("name"), 28),
            row.get("error_code") or "any",
            row.get("step") or "any",
            display.severity(row.get("severity")),
            display.text(row.get("pattern") or "(any message)", 30),
            retry,
            "yes" if row.get("builtin") else "",
        ]

    def load(self, params: dict):
        return known_errors.list_known_errors()

    def open(self, ident: int) -> None:
        self.act("show", known_errors.show_known_error, ident)

    def action_test_message(self) -> None:
        from batchops.tui.screens.prompt import Field, FormModal, ask

        def done(values):
            self.act("test", known_errors.test_message, values["message"], code=values["code"] or None)

        ask(
            self,
            FormModal(
                "Which known error would match?",
                [
                    Field("message", "Error message", required=True, multiline=True),
                    Field("code", "Error code (optional)", placeholder="E_MISSING_COLUMNS"),
                ],
                submit="Test",
            ),
            done,
        )

    def on_action_done(self, message: ActionDone) -> None:
        from batchops.tui.screens.prompt import ChoiceModal

        message.stop()
        data = message.result
        if message.action == "show":
            body = "\n".join(
                [
                    f"matches: code {data.get('error_code') or 'any'}, step {data.get('step') or 'any'}, "
                    f"pattern {data.get('pattern') or '(any message)'}",
                    f"severity: {data.get('severity')}",
                    f"root cause: {data.get('root_cause') or '-'}",
                    f"corrective action: {data.get('corrective_action') or '-'}",
                    f"auto-retry: {'up to %s after %s s' % (data.get('retry_max'), data.get('retry_delay_s')) if data.get('auto_retry') else 'no'}",
                    f"opens a ticket: {'yes' if data.get('open_ticket') else 'no'}",
                    f"past failed runs it matches: {data.get('past_matches', 0)}",
                ]
            )
            self.app.push_screen(ChoiceModal(f"Known error {data['id']}: {data['name']}", body, []))
        elif message.action == "test":
            match = data.get("match")
            if match:
                body = (
                    f"→ {match['name']} (#{match['id']}, {match['severity']}, matched on {match['level']}); "
                    f"it matched {match['past_matches']} of the last {data['failed_runs_checked']} failed runs."
                    + (
                        f"\nOther candidates: {', '.join(c['name'] for c in data['candidates'][1:])}"
                        if len(data["candidates"]) > 1
                        else ""
                    )
                )
            else:
                body = (
                    "No known error matches: triage would open an 'unknown error' incident. "
                    "Teach BatchOps with `batchops known-errors add`."
                )
            self.app.push_screen(ChoiceModal("Known-error test", body, []))
