"""The operator page's HTML: escaped, self-contained, with the actions that apply."""

from __future__ import annotations

import re

from gateway.ops.page import SessionView, live_fragment, page
from gateway.ops.snapshot import DecisionView, StateView


def state(**changes) -> StateView:
    values = {
        "taken_at": 0.0,
        "bundles": (),
        "open_bundles": 0,
        "open_by_client": {},
        "halted": frozenset(),
        "decisions": (),
        "queued": 0,
        "in_flight": 0,
    }
    values.update(changes)
    return StateView(**values)


SESSIONS = [
    SessionView("DESK1", "desk", True, 5, 7),
    SessionView("DESK2", "desk", False, None, None, enabled=False),
    SessionView("VENUE", "counterparty", True, 3, 2),
]


def test_sessions_show_their_last_numbers_and_the_actions_that_apply() -> None:
    html = live_fragment(SESSIONS, state(halted=frozenset({"DESK1"})))
    desk1 = re.search(r'<tr data-session="DESK1">.*?</tr>', html)
    assert desk1 is not None
    assert "<td>4</td><td>6</td>" in desk1.group()  # last in / last out
    assert 'data-action="/api/desks/DESK1/resume"' in desk1.group()
    assert 'data-action="/api/sessions/DESK2/enable"' in html  # logged out by an operator
    assert "logged out, disabled" in html
    assert 'data-action="/api/desks/DESK2/halt"' in html
    assert "/api/sessions/VENUE" not in html  # no desk actions on the counterparty


def test_text_from_desks_is_escaped() -> None:
    decision = DecisionView(0.0, "DESK1", "<b>L1</b>", False, "<script>alert(1)</script>", None, 99)
    html = live_fragment(SESSIONS, state(decisions=(decision,)))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'data-decision="&lt;b&gt;L1&lt;/b&gt;"' in html


def test_without_state_the_page_says_why_and_still_lists_sessions() -> None:
    html = live_fragment(SESSIONS, None, problem="the state owner did not answer within 2 s")
    assert "the state owner did not answer within 2 s" in html
    assert 'data-session="VENUE"' in html


def test_the_page_loads_nothing_from_another_host() -> None:
    html = page(live_fragment(SESSIONS, state()), title="bidgw", admin_enabled=False)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "http://" not in html
    assert "https://" not in html
    assert 'new EventSource("/events")' in html
    assert "admin actions are off" in html
