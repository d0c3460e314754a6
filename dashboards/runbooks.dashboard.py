"""Runbooks: one text panel per alert of the stack (what it means, first checks, likely causes, how to
acknowledge it), grouped by rule pack. Each panel's id is fixed by its alert's name: the alerts'
`runbook_url` opens it with `viewPanel` (generator/runbooks.py)."""

from __future__ import annotations

from generator import dashboards as g
from generator import runbooks
from generator.dashboards_custom import text_cell
from generator.model import Stack

WIDTH = 12  # two runbooks side by side


def dashboard(stack: Stack) -> g.Board | None:
    books = runbooks.for_stack(stack)
    if not books:
        return None
    ids = runbooks.panel_ids([book.alert for book in books])
    alertmanager = stack.components["alertmanager"].url.rstrip("/")
    rows: dict[str, list[g.Cell]] = {}
    for book in books:
        text = runbooks.markdown(book, alertmanager)
        height = min(24, 3 + text.count("\n") + len(text) // 90)
        about = f"The runbook of {book.alert}: what it means, first checks, likely causes, how to acknowledge it."
        cell = text_cell(book.alert, text, WIDTH, height, about, ident=ids[book.alert], unit="none")
        rows.setdefault(book.origin, []).append(cell)
    return g.Board(
        uid=runbooks.UID,
        title=runbooks.TITLE,
        description="What each alert means, what to check first, its likely causes and how to acknowledge it.",
        rows=[g.Row(origin, cells) for origin, cells in rows.items()],
        links=("promstack-alerts", "promstack-overview"),
        tags=("runbooks",),
    )
