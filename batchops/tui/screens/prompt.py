"""A small form in a modal: a few text fields, a check before it closes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea


@dataclass
class Field:
    name: str
    label: str
    value: str = ""
    multiline: bool = False
    placeholder: str = ""
    required: bool = False
    choices: list[str] | None = None  # a Select instead of a text box


def ask(screen, dialog: ModalScreen, then: Callable) -> None:
    """Show ``dialog`` over ``screen``; ``then(answer)`` runs only when it was answered, not cancelled."""
    screen.app.push_screen(dialog, lambda answer: then(answer) if answer else None)


class FormModal(ModalScreen[dict | None]):
    """Dismisses with {name: text} or None. ``check`` returns an error line or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Save")]

    def __init__(
        self,
        title: str,
        fields: list[Field],
        submit: str = "OK",
        check: Callable[[dict], str | None] | None = None,
        note: str = "",
    ):
        super().__init__()
        self.title_text, self.fields, self.submit_label, self.check, self.note = title, fields, submit, check, note

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            if self.note:
                yield Static(self.note, classes="hint", markup=False)
            for f in self.fields:
                yield Label(f.label + (" *" if f.required else ""))
                if f.choices:
                    yield Select(
                        [(c, c) for c in f.choices], value=f.value or f.choices[0], allow_blank=False, id=f"f-{f.name}"
                    )
                elif f.multiline:
                    yield TextArea(f.value, id=f"f-{f.name}", classes="multiline")
                else:
                    yield Input(f.value, placeholder=f.placeholder, id=f"f-{f.name}")
            yield Static("", id="form-error", classes="error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.submit_label, id="submit", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query("Input, TextArea, Select").first().focus()

    def values(self) -> dict:
        out = {}
        for f in self.fields:
            widget = self.query_one(f"#f-{f.name}")
            value: object
            if isinstance(widget, TextArea):
                value = widget.text
            else:
                assert isinstance(widget, (Input, Select))  # compose makes only these three
                value = widget.value
            out[f.name] = str(value).strip()
        return out

    def action_submit(self) -> None:
        values = self.values()
        missing = [f.label for f in self.fields if f.required and not values[f.name]]
        error = f"{missing[0]} is required" if missing else (self.check(values) if self.check else None)
        if error:
            self.query_one("#form-error", Static).update(error)
            return
        self.dismiss(values)

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def _submit(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceModal(ModalScreen[str | None]):
    """A question with a few buttons; dismisses with the chosen key or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, body: str, choices: list[tuple[str, str]]):
        super().__init__()
        self.title_text, self.body, self.choices = title, body, choices

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            if self.body:
                yield Static(self.body, markup=False)
            with Horizontal(classes="buttons"):
                for i, (key, label) in enumerate(self.choices):
                    yield Button(label, id=f"choice-{key}", variant="primary" if i == 0 else "default")
                yield Button("Cancel" if self.choices else "Close", id="cancel")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        key = (event.button.id or "").removeprefix("choice-")
        self.dismiss(None if key == "cancel" else key)

    def action_cancel(self) -> None:
        self.dismiss(None)
