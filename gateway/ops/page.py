"""The operator page: server-rendered HTML, one small inline script, no build step and
nothing from another host (it works offline).

The page is rendered whole once; then the server sends the ``#live`` part again,
rendered by :func:`live_fragment`, as a server-sent event whenever it changes.
Admin buttons POST to the JSON API with the token typed into the page (kept in
the tab's sessionStorage, sent as ``Authorization: Bearer``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from gateway.ops.snapshot import BundleView, StateView

__all__ = ["SessionView", "live_fragment", "page"]

_ORD_STATUS = {
    "0": "new",
    "1": "partly filled",
    "2": "filled",
    "4": "cancelled",
    "8": "rejected",
    "A": "pending",
    "C": "expired",
}


@dataclass(frozen=True, slots=True)
class SessionView:
    """One FIX session as QuickFIX has it: the peer's CompID, which side, its numbers."""

    name: str
    side: str  # "desk" or "counterparty"
    logged_on: bool
    next_in: int | None  # the MsgSeqNum expected next from the peer
    next_out: int | None  # the MsgSeqNum the gateway sends next
    enabled: bool = True  # False: an operator logged it out, its logons are refused

    @property
    def last_in(self) -> int | None:
        return None if self.next_in is None else self.next_in - 1

    @property
    def last_out(self) -> int | None:
        return None if self.next_out is None else self.next_out - 1


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}"


def _button(label: str, action: str, kind: str = "") -> str:
    return (
        f'<button type="button" class="{kind}" data-action="{escape(action)}">'
        f"{escape(label)}</button>"
    )


def _number(value: int | None) -> str:
    return "–" if value is None else str(value)


def _sessions(sessions: Sequence[SessionView], state: StateView | None) -> str:
    rows = []
    for view in sessions:
        name = escape(view.name)
        is_desk = view.side == "desk"
        halted = state is not None and view.name in state.halted
        killed = state is not None and bool({view.name, "*"} & state.killed)
        open_count = state.open_by_client.get(view.name, 0) if state is not None else None
        actions = ""
        if is_desk:
            actions = (
                _button("Log out", f"/api/sessions/{view.name}/logout")
                if view.enabled
                else _button("Enable", f"/api/sessions/{view.name}/enable")
            )
            actions += (
                _button("Resume", f"/api/desks/{view.name}/resume")
                if halted
                else _button("Halt", f"/api/desks/{view.name}/halt", "danger")
            )
            actions += (
                _button("Release", f"/api/desks/{view.name}/release")
                if killed
                else _button("Kill", f"/api/desks/{view.name}/kill", "danger")
            )
        status = "logged on" if view.logged_on else "logged out"
        if not view.enabled:
            status += ", disabled"
        rows.append(
            f'<tr data-session="{name}">'
            f"<td>{name}</td><td>{view.side}</td>"
            f'<td class="{"up" if view.logged_on else "down"}">{status}</td>'
            f"<td>{_number(view.last_in)}</td><td>{_number(view.last_out)}</td>"
            f"<td>{_number(open_count) if is_desk else ''}</td>"
            f'<td class="halt">{", ".join(_desk_state(halted, killed))}</td>'
            f"<td>{actions}</td></tr>"
        )
    return (
        "<h2>Sessions</h2><table><thead><tr><th>peer</th><th>side</th><th>state</th>"
        "<th>last seq in</th><th>last seq out</th><th>open bundles</th><th>desk</th>"
        f"<th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _desk_state(halted: bool, killed: bool) -> list[str]:
    return [word for word, on in (("halted", halted), ("killed", killed)) if on]


def _bundle(bundle: BundleView) -> str:
    legs = "".join(
        f"<tr><td>{escape(leg.symbol)}</td><td>{escape(leg.side)}</td>"
        f"<td>{escape(leg.cl_ord_id)}</td><td>{leg.quantity}</td>"
        f'<td class="filled">{leg.filled}</td><td class="remaining">{leg.remaining}</td>'
        f"<td>{escape(_ORD_STATUS.get(leg.status, leg.status))}</td></tr>"
        for leg in bundle.legs
    )
    return (
        f'<tr data-bundle="{escape(bundle.bundle_id)}" data-list-id="{escape(bundle.list_id)}">'
        f"<td>{escape(bundle.bundle_id)}</td><td>{escape(bundle.client)}</td>"
        f"<td>{escape(bundle.list_id)}</td><td>{escape(bundle.strategy)}{_measure(bundle)}</td>"
        '<td><table class="legs"><thead><tr><th>symbol</th><th>side</th><th>ClOrdID</th>'
        "<th>qty</th><th>filled</th><th>remaining</th><th>status</th></tr></thead>"
        f"<tbody>{legs}</tbody></table></td>"
        f"<td>{_button('Cancel', f'/api/bundles/{bundle.bundle_id}/cancel', 'danger')}</td></tr>"
    )


def _measure(bundle: BundleView) -> str:
    """The fill so far against the strategy's bound, marked within or outside."""
    if bundle.measure is None:
        return ""
    kind = "unknown" if bundle.within is None else "within" if bundle.within else "outside"
    return f'<div class="measure {kind}">{escape(bundle.measure)} ({kind})</div>'


def _bundles(state: StateView) -> str:
    shown = len(state.bundles)
    more = f" (the newest {shown} of {state.open_bundles})" if shown < state.open_bundles else ""
    body = "".join(_bundle(b) for b in state.bundles) or (
        '<tr><td colspan="6" class="empty">no open bundle</td></tr>'
    )
    return (
        f"<h2>Open bundles{more}</h2><table><thead><tr><th>bundle</th><th>desk</th>"
        "<th>ListID</th><th>strategy</th><th>legs</th><th></th></tr></thead>"
        f'<tbody id="bundles">{body}</tbody></table>'
    )


def _decisions(state: StateView) -> str:
    rows = (
        "".join(
            f'<tr data-decision="{escape(d.list_id)}" class="{"ok" if d.accepted else "refused"}">'
            f"<td>{_clock(d.at)}</td><td>{escape(d.client)}</td><td>{escape(d.list_id)}</td>"
            f"<td>{'accepted' if d.accepted else 'denied'}</td>"
            f"<td>{'' if d.reason_code is None else d.reason_code}</td>"
            f"<td>{escape(d.reason)}</td>"
            f"<td>{'' if d.presolve_ms is None else f'{d.presolve_ms:.3f}'}</td></tr>"
            for d in state.decisions
        )
        or '<tr><td colspan="7" class="empty">no decision yet</td></tr>'
    )
    return (
        f"<h2>Last {len(state.decisions)} decisions</h2><table><thead><tr><th>UTC</th>"
        "<th>desk</th><th>ListID</th><th>verdict</th><th>code</th><th>reason</th>"
        f"<th>pre-solve ms</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _latency(buckets: Sequence[tuple[str, int]]) -> str:
    """Decision latency as bars: how many lists fell in each histogram bucket."""
    if not buckets or not any(count for _, count in buckets):
        return ""
    top = max(count for _, count in buckets)
    bars = "".join(
        f'<div class="bar"><span class="label">≤ {escape(label)}</span>'
        f'<span class="fill" style="width:{0 if top == 0 else round(24 * count / top, 1)}em">'
        f"</span><span>{count}</span></div>"
        for label, count in buckets
    )
    return f'<h2>Decision latency</h2><div class="histogram">{bars}</div>'


def live_fragment(
    sessions: Sequence[SessionView],
    state: StateView | None,
    *,
    latency: Sequence[tuple[str, int]] = (),
    problem: str | None = None,
) -> str:
    """The part of the page that changes (``#live``)."""
    if state is None:
        summary = f'<p class="refused">{escape(problem or "no state")}</p>'
        return summary + _sessions(sessions, None)
    summary = (
        f'<p class="summary">updated {_clock(state.taken_at)} UTC · '
        f"open bundles <b>{state.open_bundles}</b> · queued {state.queued} · "
        f"being solved {state.in_flight}</p>"
    )
    return (
        summary
        + _sessions(sessions, state)
        + _bundles(state)
        + _decisions(state)
        + _latency(latency)
    )


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d232a; }
h1 { font-size: 1.3em; margin: 0 0 .4em; } h2 { font-size: 1.05em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; } th, td { padding: .2em .6em; text-align: left;
  border-bottom: 1px solid #dde2e6; vertical-align: top; }
th { background: #f1f3f5; font-weight: 600; } table.legs th { background: none; }
.up { color: #137333; font-weight: 600; } .down { color: #b3261e; font-weight: 600; }
.halt { color: #b3261e; font-weight: 600; }
.measure { font-size: 0.85em; } .measure.within { color: #137333; }
.measure.outside { color: #b3261e; } .empty { color: #68717a; font-style: italic; }
tr.refused td:nth-child(4) { color: #b3261e; } tr.ok td:nth-child(4) { color: #137333; }
button { font: inherit; margin-right: .3em; cursor: pointer; }
button.danger { color: #b3261e; }
#admin { padding: .5em .8em; background: #f8f9fa; border: 1px solid #dde2e6;
  display: inline-block; }
#answer.ok { color: #137333; } #answer.refused { color: #b3261e; }
#stream { color: #68717a; }
.histogram .bar { display: flex; gap: .5em; align-items: center; }
.histogram .label { width: 6em; text-align: right; color: #68717a; }
.histogram .fill { display: inline-block; height: .8em; background: #4c8bf5; }
"""

_SCRIPT = """
const live = document.getElementById("live");
const answer = document.getElementById("answer");
const stream = document.getElementById("stream");
const token = document.getElementById("token");
token.value = sessionStorage.getItem("bidgw-ops-token") || "";
token.addEventListener("input", () => sessionStorage.setItem("bidgw-ops-token", token.value));
const events = new EventSource("/events");
events.addEventListener("state", (event) => {
  live.innerHTML = event.data;
  stream.textContent = "live";
  document.body.dataset.stream = "live";
});
events.onerror = () => {
  stream.textContent = "disconnected: retrying";
  document.body.dataset.stream = "retrying";
};
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const headers = token.value ? {Authorization: "Bearer " + token.value} : {};
  let text;
  let ok = false;
  try {
    const response = await fetch(button.dataset.action, {method: "POST", headers});
    const body = await response.json().catch(() => ({message: response.statusText}));
    ok = response.ok;
    text = response.status + ": " + body.message;
  } catch (error) {
    text = "no answer: " + error;
  }
  answer.textContent = text;
  answer.className = ok ? "ok" : "refused";
});
"""


def page(live: str, *, title: str, admin_enabled: bool) -> str:
    """The whole page, with ``live`` (from :func:`live_fragment`) already in place."""
    admin_note = (
        ""
        if admin_enabled
        else " (admin actions are off: the gateway config has no ops.admin_token_sha256)"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title><style>{_STYLE}</style></head>
<body data-stream="connecting">
<h1>{escape(title)} <small id="stream">connecting…</small></h1>
<div id="admin"><label>Admin token <input id="token" type="password" autocomplete="off"
 size="24"></label>{escape(admin_note)} <span id="answer" role="status"></span></div>
<main id="live">{live}</main>
<script>{_SCRIPT}</script>
</body></html>
"""
