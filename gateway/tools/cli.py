"""The ``bidgw`` command line.

Exit codes follow one rule across subcommands: 0 success (``check``: the
bundle can fill; ``status``: the gateway is ready), 1 a well-formed request the
gateway says no to (``check``: infeasible; ``status``: not ready), 2 usage,
payload or configuration errors, or a gateway that cannot be reached (message
on stderr, no traceback), 70 an internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import tracemalloc
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import structlog

from gateway import __version__
from gateway.core import logs
from gateway.core.bundle import OrderBundle
from gateway.core.errors import FieldIssue, GatewayError
from gateway.core.plugins import CommandPlugin, StrategySummary, load_commands, parse_envelope
from gateway.core.store import bytes_on_disk
from gateway.core.yamlio import load_yaml
from gateway.router.config import AppConfig, load_config
from gateway.solver.presolve import PresolveConfig, Verdict
from gateway.solver.sandbox import SolverSandbox
from gateway.tools.client import load_client_config

__all__ = ["main"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70


class _Parser(argparse.ArgumentParser):
    """argparse that exits with 2 and a one-line message, like the rest of the CLI."""

    def error(self, message: str) -> Any:  # argparse's own signature returns NoReturn
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bidgw",
        description="FIX-connected bidder gateway for expressive bids.",
    )
    parser.add_argument("--version", action="version", version=f"bidgw {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    check = commands.add_parser(
        "check",
        help="run a payload's strategy and the pre-solver offline (no FIX sessions)",
        description="Load a bidder payload YAML, build its order bundle with the strategy it "
        "names, and pre-solve it: can a non-empty fill satisfy every constraint, "
        "what is the largest fill, and if none, why. Exit 0 feasible, 1 not "
        "feasible, 2 invalid payload or usage.",
    )
    check.add_argument("payload", type=Path, help="payload YAML file (see config/samples/)")
    check.add_argument(
        "--config",
        type=Path,
        default=None,
        help="gateway config YAML for strategies and pre-solver settings (default: "
        "config/gateway.yaml when it exists, else the built-in strategies, HiGHS, 1000 ms)",
    )
    check.add_argument(
        "--json", action="store_true", help="print exactly one JSON object on stdout"
    )
    check.add_argument(
        "--solver", choices=("highs", "cbc"), default=None, help="override the configured solver"
    )
    check.add_argument(
        "--time-limit-ms",
        type=int,
        default=None,
        metavar="MS",
        help="override the configured solve time limit",
    )
    check.set_defaults(handler=_cmd_check)

    _add_session_commands(commands)
    _add_status_command(commands)
    _add_admin_command(commands)
    _add_tls_command(commands)
    _add_journal_command(commands)
    _add_plugin_commands(parser, commands)
    return parser


def _add_plugin_commands(parser: argparse.ArgumentParser, commands: Any) -> None:
    """Subcommands of plugin packages: the ``bidgw.commands`` entry points (``hedge``).

    A plugin that fails to load, or whose ``configure`` fails, still gets its
    command name: running it prints the plugin's error and exits 2, and every
    other command keeps working. A plugin named like a built-in command is
    left out and listed under ``bidgw --help``.
    """
    unavailable: list[str] = []
    for command in load_commands():
        if command.name in commands.choices:
            unavailable.append(f"{command.name} ({command.source}): named like a built-in command")
            continue
        plugin, error = command.plugin, command.error
        if plugin is not None and error is None:
            error = _probe(command.name, command.source, plugin)
        if plugin is not None and error is None:
            plugin.configure(
                commands.add_parser(command.name, help=plugin.help, description=plugin.help)
            )
            continue
        unavailable.append(f"{command.name} ({command.source}): failed to load")
        # No option parsing ("-" is not a prefix here): every argument, --help
        # included, reaches the handler, which reports the plugin's error.
        stub = commands.add_parser(
            command.name,
            help="(unavailable: its plugin failed to load; run it to see why)",
            add_help=False,
            prefix_chars="\x00",
        )
        stub.add_argument("arguments", nargs="*")
        stub.set_defaults(handler=_unavailable(error or GatewayError("failed to load")))
    if unavailable:
        parser.epilog = "unavailable plugin commands: " + "; ".join(unavailable)


def _probe(name: str, source: str, plugin: CommandPlugin) -> GatewayError | None:
    """Configure the plugin on a scratch parser: a half-configured subcommand cannot be
    taken back, so a failing ``configure`` must not touch the real one."""
    try:
        plugin.configure(_Parser(prog=f"bidgw {name}"))
    except Exception as exc:  # third-party code fails in any way
        return GatewayError(
            f"command plugin {name!r} ({source}): configure failed: {type(exc).__name__}: {exc}"
        )
    return None


def _unavailable(error: GatewayError) -> Callable[[argparse.Namespace, TextIO], int]:
    def handler(args: argparse.Namespace, out: TextIO) -> int:
        raise error

    return handler


def _add_session_commands(commands: Any) -> None:
    """run, venue, demo, submit and strategies."""
    run = commands.add_parser(
        "run",
        help="run the gateway: FIX acceptor for clients, FIX initiator to the counterparty",
        description="Run the gateway until Ctrl-C or SIGTERM (sessions are logged out and "
        "stores flushed). Logs are JSON lines on stderr (a console format on a "
        "terminal), or in --log-file.",
    )
    run.add_argument("--config", type=Path, required=True, help="gateway config YAML")
    run.add_argument("--log-file", type=Path, default=None, help="write logs to this file")
    run.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    run.set_defaults(handler=_cmd_run)

    venue = commands.add_parser(
        "venue",
        help="run the simulated counterparty (expressive call auction over FIX)",
        description="A FIX acceptor that holds the bundles it receives, runs a call auction "
        "every auction_interval_ms over them and synthetic liquidity, and sends "
        "fills back. SIGHUP reloads the config's symbols (sent to the gateway as a new "
        "SecurityList). Ctrl-C / SIGTERM to stop.",
    )
    venue.add_argument("--config", type=Path, required=True, help="venue config YAML")
    venue.add_argument("--log-file", type=Path, default=None, help="write logs to this file")
    venue.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    venue.set_defaults(handler=_cmd_venue)

    demo = commands.add_parser(
        "demo",
        help="run venue, gateway and a client on loopback and summarise the fills",
        description="Start bidgw venue and bidgw run on free loopback ports, submit the "
        "bundled samples plus a seeded stream of random bundles through a FIX "
        "client, let the venue run a number of auctions, and print every bundle's "
        "fills next to its strategy's bound (hedge ratio, beta drift, pair ratio, dollar "
        "imbalance). Exit 0 when every fill "
        "respects its bound.",
    )
    demo.add_argument(
        "--config-dir",
        type=Path,
        default=Path("config"),
        help="folder with venue.yaml, gateway.yaml, strategies.yaml and samples/ (default: config)",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("var/demo"),
        help="where the run folder is created (default: var/demo)",
    )
    demo.add_argument("--bundles", type=int, default=40, help="random bundles (default 40)")
    demo.add_argument("--auctions", type=int, default=50, help="auctions to run (default 50)")
    demo.add_argument("--seed", type=int, default=11, help="random seed (default 11)")
    demo.add_argument(
        "--hold",
        action="store_true",
        help="after the summary, keep venue and gateway (and the operator page, when "
        "ops.enabled) running until Ctrl-C or SIGTERM",
    )
    demo.set_defaults(handler=_cmd_demo)

    submit = commands.add_parser(
        "submit",
        help="send a payload YAML to the gateway over FIX and print the outcome",
        description="Log on to the gateway, send the payload as a NewOrderList, wait for the "
        "acceptance or rejection and then for fills until the bundle is done or "
        "--timeout passes. A client that logs on with reset_on_logon (the bundled "
        "config/client.yaml does) has its open bundles cancelled by the gateway a few "
        "seconds after it disconnects (cancel_on_disconnect: auto). Exit 0 accepted, "
        "1 rejected, 2 usage or connection error (also when the session ended before "
        "the bundle was done).",
    )
    submit.add_argument("payload", type=Path, help="payload YAML file (as for bidgw check)")
    submit.add_argument("--config", type=Path, required=True, help="client config YAML")
    submit.add_argument("--json", action="store_true", help="print one JSON object")
    submit.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECS",
        help="how long to wait for the answer and fills (default 10)",
    )
    submit.add_argument(
        "--list-id", default=None, help="ListID to use (default: the payload's id, else a new one)"
    )
    submit.add_argument(
        "--no-wait", action="store_true", help="return once the gateway has accepted or rejected"
    )
    submit.add_argument(
        "--cancel-after",
        type=float,
        default=None,
        metavar="SECS",
        help="send a ListCancelRequest this long after acceptance",
    )
    submit.set_defaults(handler=_cmd_submit)

    strategies = commands.add_parser(
        "strategies",
        help="list the strategies a config enables: plugins and templates, their payload fields",
        description="List every strategy the gateway config's strategies file enables: "
        "built-in and third-party plugins with their payload fields and config, and "
        "templates (docs/templates.md) with their file, parameters, position fields, "
        "rules and constraints.",
    )
    strategies.add_argument(
        "--config",
        type=Path,
        default=None,
        help="gateway config YAML (default: config/gateway.yaml when it exists, else the "
        "built-in strategies only)",
    )
    strategies.set_defaults(handler=_cmd_strategies)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _is_venue_config(raw: object) -> bool:
    """Whether a loaded config file is the venue's (it lists symbols) or the gateway's."""
    return isinstance(raw, dict) and "symbols" in raw


def _cmd_journal_compact(args: argparse.Namespace, out: TextIO) -> int:
    """``bidgw journal compact``: the gateway's journal, or the venue's."""
    from gateway.router.journal import Journal  # noqa: PLC0415 - only this command needs it
    from gateway.venue.config import load_venue_config  # noqa: PLC0415 - see above
    from gateway.venue.journal import VenueJournal  # noqa: PLC0415 - see above

    is_venue = _is_venue_config(load_yaml(args.config))
    journal: Journal | VenueJournal
    if is_venue:
        venue = load_venue_config(args.config)
        path, hours = venue.journal, float(venue.journal_retention_hours)
    else:
        gateway = load_config(args.config)
        path, hours = gateway.journal, float(gateway.journal_retention_hours)
    if path is None or not path.exists():
        raise GatewayError(f"no journal at {path}")
    if args.older_than_hours is not None:
        if args.older_than_hours < 0:
            raise GatewayError("--older-than-hours must be >= 0")
        hours = args.older_than_hours
    before = bytes_on_disk(path)
    journal = VenueJournal(path) if is_venue else Journal(path)
    try:
        counts = journal.compact(hours * 3600)
        journal.checkpoint(vacuum=not args.no_vacuum)
    finally:
        journal.close()
    removed = ", ".join(f"{count} {table} rows" for table, count in counts.items())
    out.write(
        f"{path}: removed {removed} older than {hours:g} h; "
        f"{before} -> {bytes_on_disk(path)} bytes (database and write-ahead log)\n"
    )
    return 0


_DEFAULT_GATEWAY_CONFIG = Path("config/gateway.yaml")


def _add_status_command(commands: Any) -> None:
    """status."""
    status = commands.add_parser(
        "status",
        help="a running gateway's sessions, open bundles and readiness (its ops endpoint)",
        description="Read a running gateway's operator surface (/api/state and /readyz; "
        "ops.enabled must be true in its config) and print its sessions, open bundles and "
        "readiness. Exit 0 ready, 1 not ready, 2 unreachable or usage error.",
    )
    status.add_argument(
        "--url",
        default=None,
        help="the surface's base URL (default: from the --config file's ops section)",
    )
    status.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"gateway config YAML whose ops host and port to use "
        f"(default: {_DEFAULT_GATEWAY_CONFIG} when it exists, else 127.0.0.1:8780)",
    )
    status.add_argument("--json", action="store_true", help="print exactly one JSON object")
    status.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECS", help="per request (default 5)"
    )
    status.set_defaults(handler=_cmd_status)


def _add_admin_command(commands: Any) -> None:
    """admin kill / admin cancel."""
    admin = commands.add_parser(
        "admin",
        help="operator actions on a running gateway (kill switch, cancel a bundle)",
        description="Act on a running gateway through its operator surface (ops.enabled and "
        "ops.admin_token_sha256 in its config). The token comes from $BIDGW_ADMIN_TOKEN or "
        "--token-file. Exit 0 done, 1 refused or failed, 2 unreachable or usage error.",
    )
    actions = admin.add_subparsers(dest="action", required=True, metavar="ACTION")
    kill = actions.add_parser(
        "kill",
        help="kill switch: cancel a desk's open bundles and refuse its new lists",
        description="Cancel every open bundle of the desk at the counterparty "
        "(ListCancelRequest; the desk receives the cancels) and refuse its new lists until "
        "released. The switch is journaled: it survives a gateway restart.",
    )
    who = kill.add_mutually_exclusive_group(required=True)
    who.add_argument("desk", nargs="?", help="the desk's CompID, e.g. DESK1")
    who.add_argument("--all", action="store_true", help="every desk, present and future")
    kill.add_argument("--release", action="store_true", help="release the switch instead")
    cancel = actions.add_parser("cancel", help="cancel one open bundle at the counterparty")
    cancel.add_argument("bundle", help="its BundleID (20003), e.g. B1a2b3c-7")
    for parser in (kill, cancel):
        parser.add_argument("--url", default=None, help="the ops surface's base URL")
        parser.add_argument(
            "--config", type=Path, default=None, help="gateway config YAML (ops host and port)"
        )
        parser.add_argument(
            "--token-file", type=Path, default=None, help="file holding the admin token"
        )
        parser.add_argument("--timeout", type=float, default=5.0, metavar="SECS")
        parser.set_defaults(handler=_cmd_admin)


def _cmd_admin(args: argparse.Namespace, out: TextIO) -> int:
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise GatewayError(f"cannot read {args.token_file}: {exc.strerror}") from None
    else:
        token = os.environ.get("BIDGW_ADMIN_TOKEN", "").strip()
    if not token:
        raise GatewayError("no admin token: set $BIDGW_ADMIN_TOKEN or pass --token-file")
    base = _status_url(args)
    if args.action == "kill":
        target = "*" if args.all else args.desk
        path = f"api/desks/{urllib.parse.quote(target, safe='')}/"
        path += "release" if args.release else "kill"
    else:
        path = f"api/bundles/{urllib.parse.quote(args.bundle, safe='')}/cancel"
    status, body = _http_json(f"{base}{path}", args.timeout, token=token)
    message = body.get("message", "") if isinstance(body, dict) else str(body)
    out.write(f"{message} (HTTP {status})\n")
    return EXIT_OK if status < 400 else EXIT_REJECTED


def _status_url(args: argparse.Namespace) -> str:
    """``--url``, else the ops section of ``--config`` (or of config/gateway.yaml)."""
    if args.url:
        return args.url if args.url.endswith("/") else f"{args.url}/"
    path = args.config
    if path is None and _DEFAULT_GATEWAY_CONFIG.exists():
        path = _DEFAULT_GATEWAY_CONFIG
    ops = load_config(path).ops if path is not None else AppConfig().ops
    if path is not None and not ops.enabled:
        raise GatewayError(
            f"{path} has no operator surface (ops.enabled is false): enable it there and "
            "restart the gateway, or pass --url"
        )
    # A wildcard bind is reached on loopback.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(ops.host, ops.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{ops.port}/"


def _http_json(url: str, timeout: float, *, token: str | None = None) -> tuple[int, Any]:
    """GET ``url`` (POST with the admin ``token``): (HTTP status, decoded JSON body);
    GatewayError when unreachable or not answered in JSON."""
    request = urllib.request.Request(url)
    if token is not None:
        request = urllib.request.Request(
            url, method="POST", headers={"Authorization": f"Bearer {token}"}
        )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 503 and friends still carry a JSON body
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            raise GatewayError(f"{url} answered {exc.code} without JSON") from None
        finally:
            exc.close()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GatewayError(f"cannot reach the gateway's ops endpoint at {url}: {reason}") from None


def _cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    if args.timeout <= 0:
        raise GatewayError("--timeout must be > 0")
    base = _status_url(args)
    if not base.startswith(("http://", "https://")):
        raise GatewayError(f"--url must be an http:// or https:// URL, got {base!r}")
    _, ready = _http_json(f"{base}readyz", args.timeout)
    _, state = _http_json(f"{base}api/state", args.timeout)
    if not isinstance(ready, dict) or not isinstance(state, dict) or "ready" not in ready:
        raise GatewayError(f"{base} does not look like a bidgw operator surface")
    is_ready = bool(ready["ready"])
    document = {
        "url": base,
        "ready": is_ready,
        "failing": ready.get("failing", {}),
        "sessions": state.get("sessions", []),
        "state": state.get("state"),
        "problem": state.get("problem"),
    }
    if args.json:
        out.write(json.dumps(document) + "\n")
    else:
        out.write(_render_status(document))
    return EXIT_OK if is_ready else EXIT_REJECTED


def _render_status(document: dict[str, Any]) -> str:
    failing = document["failing"]
    lines = [
        f"{document['url']}  "
        + ("READY" if document["ready"] else "NOT READY")
        + "".join(f"\n  not ready: {name}: {why}" for name, why in sorted(failing.items()))
    ]
    lines.append("sessions:")
    for session in document["sessions"]:
        state = "logged on" if session.get("logged_on") else "logged out"
        if session.get("enabled") is False:
            state += " (disabled)"
        seqs = ""
        if session.get("last_seq_in") is not None:
            seqs = f"  seq in {session['last_seq_in']} out {session['last_seq_out']}"
        lines.append(f"  {session['name']:<12}{session['side']:<14}{state}{seqs}")
    view = document["state"]
    if view is None:
        lines.append(f"open bundles: unknown ({document['problem']})")
        return "\n".join(lines) + "\n"
    per_client = ", ".join(f"{c} {n}" for c, n in sorted(view["open_by_client"].items()))
    lines.append(
        f"open bundles: {view['open_bundles']}"
        + (f" ({per_client})" if per_client else "")
        + f"; lists in flight {view['in_flight']}, queued {view['queued']}"
        + (f"; halted: {', '.join(view['halted'])}" if view["halted"] else "")
        + (f"; killed: {', '.join(view['killed'])}" if view.get("killed") else "")
    )
    for bundle in view["bundles"]:
        legs = ", ".join(
            f"{leg['side']} {leg['symbol']} {leg['filled']}/{leg['quantity']}"
            for leg in bundle["legs"]
        )
        lines.append(
            f"  {bundle['bundle_id']:<22}{bundle['client']:<10}{bundle['list_id']:<20}"
            f"{bundle['strategy']:<24}{legs}"
        )
    if len(view["bundles"]) < view["open_bundles"]:
        lines.append(f"  ... and {view['open_bundles'] - len(view['bundles'])} more")
    return "\n".join(lines) + "\n"


def _add_journal_command(commands: Any) -> None:
    """journal."""
    journal = commands.add_parser(
        "journal",
        help="list the bundles in the gateway's journal, or compact a journal",
        description="list (default): read the gateway's SQLite journal (safe while the gateway "
        "runs) and print one line per accepted bundle: BundleID, client, ListID, and whether "
        "it was forwarded, acknowledged and finished. compact: delete finished rows older "
        "than the retention (the config's journal_retention_hours unless "
        "--older-than-hours is given) and give the space back (VACUUM: while it rewrites "
        "the file a running gateway's or venue's journal writes wait, and past 5 s the "
        "message being journaled is refused with a reason; --no-vacuum skips it); open "
        "bundles and anything not yet reported always stay. --config takes a gateway or a "
        "venue config.",
    )
    journal.add_argument(
        "action", nargs="?", choices=("list", "compact"), default="list", help="default: list"
    )
    journal.add_argument("--config", type=Path, required=True, help="gateway or venue config YAML")
    journal.add_argument("--open", action="store_true", help="list: only bundles not yet done")
    journal.add_argument(
        "--older-than-hours",
        type=float,
        default=None,
        help="compact: keep this many hours (default: the config's journal_retention_hours)",
    )
    journal.add_argument(
        "--no-vacuum",
        action="store_true",
        help="compact: delete the rows but leave the file's size (freed pages are reused); "
        "never holds the journal's write lock for long",
    )
    journal.set_defaults(handler=_cmd_journal)


def _cmd_journal(args: argparse.Namespace, out: TextIO) -> int:
    from gateway.router.journal import Journal  # noqa: PLC0415 - only this command needs it

    if args.action == "compact":
        return _cmd_journal_compact(args, out)
    if _is_venue_config(load_yaml(args.config)):
        raise GatewayError(
            f"{args.config} is a venue config: 'bidgw journal' lists the gateway's journal "
            "(give the gateway's config); 'bidgw journal compact' takes either"
        )
    config = load_config(args.config)
    if config.journal is None or not config.journal.exists():
        raise GatewayError(f"no journal at {config.journal}")
    journal = Journal(config.journal)
    try:
        rows = journal.all_bundles()
    finally:
        journal.close()
    out.write(f"{'bundle':<22}{'client':<10}{'list':<24}forwarded acked done\n")
    for bundle_id, client, list_id, forwarded, acked, done in rows:
        if args.open and done:
            continue
        out.write(
            f"{bundle_id:<22}{client:<10}{list_id:<24}{'yes' if forwarded else 'NO':<10}"
            f"{'yes' if acked else 'NO':<6}{'yes' if done else 'no'}\n"
        )
    out.write(f"{len(rows)} bundles, {sum(not r[5] for r in rows)} open\n")
    return EXIT_OK


def _add_tls_command(commands: Any) -> None:
    """tls-proxy."""
    tls = commands.add_parser(
        "tls-proxy",
        help="TLS for a FIX session's network hop (quickfix from PyPI has no TLS)",
        description="terminate: listen with TLS and forward in plain TCP to a local FIX "
        "acceptor (put it in front of bidgw run's client port). originate: "
        "listen in plain TCP on 127.0.0.1 for a local FIX initiator and connect "
        "to the remote side with TLS. Only the hop between the proxies is "
        "encrypted; keep the plain hop on the same host.",
    )
    tls.add_argument("mode", choices=("terminate", "originate"))
    tls.add_argument("--listen", type=_address, required=True, metavar="HOST:PORT")
    tls.add_argument("--to", type=_address, required=True, metavar="HOST:PORT")
    tls.add_argument("--cert", type=Path, help="PEM certificate (server; client for mTLS)")
    tls.add_argument("--key", type=Path, help="PEM private key for --cert")
    tls.add_argument("--ca", type=Path, help="originate: CA to verify the server with")
    tls.add_argument(
        "--client-ca", type=Path, help="terminate: require client certificates signed by this CA"
    )
    tls.add_argument("--server-name", help="originate: name expected in the certificate")
    tls.set_defaults(handler=_cmd_tls)


def _cmd_tls(args: argparse.Namespace, out: TextIO) -> int:
    from gateway.tools.tlsproxy import TlsProxy, TlsProxyConfig  # noqa: PLC0415 - rarely used

    logs.configure(level="info")
    try:
        proxy = TlsProxy(
            TlsProxyConfig(
                mode=args.mode,
                listen_host=args.listen[0],
                listen_port=args.listen[1],
                target_host=args.to[0],
                target_port=args.to[1],
                cert=args.cert,
                key=args.key,
                ca=args.ca,
                client_ca=args.client_ca,
                server_name=args.server_name,
            )
        )
    except (ValueError, OSError) as exc:
        raise GatewayError(f"cannot set up TLS: {exc}") from None
    return _serve("TLS proxy", proxy)


def _app_config(args: argparse.Namespace) -> AppConfig:
    config = load_config(args.config) if args.config else AppConfig()
    overrides: dict[str, Any] = {}
    if getattr(args, "solver", None):
        overrides["solver"] = args.solver
    if getattr(args, "time_limit_ms", None) is not None:
        if args.time_limit_ms <= 0:
            raise GatewayError("--time-limit-ms must be a positive number of milliseconds")
        overrides["time_limit_ms"] = args.time_limit_ms
        # Keep the hard stop after the solver's own limit.
        overrides["kill_after_ms"] = max(config.presolve.kill_after_ms, args.time_limit_ms + 1000)
    presolve = PresolveConfig.model_validate({**config.presolve.model_dump(), **overrides})
    return config.model_copy(update={"presolve": presolve})


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    _default_config(args)
    config = _app_config(args)
    registry = config.registry()
    envelope = parse_envelope(load_yaml(args.payload), source=str(args.payload))
    bundle = registry.build(envelope, bundle_id=envelope.id or args.payload.stem)
    presolve = config.presolve.model_copy(update={"smallest_fill": not args.json})
    # In a solver process, as in the gateway: a solve that ignores its time limit is
    # stopped at the hard deadline instead of hanging the command.
    sandbox = SolverSandbox(presolve, processes=1)
    try:
        verdict = sandbox.check(bundle)
    finally:
        sandbox.close()
    if args.json:
        max_fill = (
            [
                {"symbol": leg.symbol, "side": leg.side.value, "qty": qty}
                for leg, qty in zip(bundle.legs, verdict.max_fill, strict=True)
            ]
            if verdict.max_fill
            else []
        )
        document = {
            "strategy": envelope.strategy,
            "feasible": verdict.feasible,
            "reason": verdict.reason,
            "max_fill": max_fill,
        }
        out.write(json.dumps(document) + "\n")
    else:
        out.write(_render_check(args.payload, envelope.strategy, bundle, verdict))
    return EXIT_OK if verdict.feasible else EXIT_REJECTED


def _render_check(path: Path, strategy: str, bundle: OrderBundle, verdict: Verdict) -> str:
    lines = [
        f"{path}: strategy {strategy}, {len(bundle.legs)} legs, "
        f"{len(bundle.constraints)} constraint(s)"
    ]
    for constraint in bundle.constraints:
        lines.append(f"  {constraint.name}: {constraint.render(bundle.symbols)}")
        if constraint.description:
            lines.append(f"      {constraint.description}")
    for price in bundle.price_constraints:
        lines.append(f"  {price.name} (clearing prices, where it fills): {price.render()}")
    if "risk_before" in bundle.metadata:
        unrounded = bundle.metadata.get("risk_unrounded", bundle.metadata["risk_after"])
        lines.append(
            f"  residual risk (variance of P&L): {bundle.metadata['risk_before']} before, "
            f"{bundle.metadata['risk_after']} after a full fill; lots per vector "
            f"{bundle.metadata['lots_per_vector']}"
            + (
                ""
                if unrounded == bundle.metadata["risk_after"]
                else f" ({unrounded} for whole lots of the vectors, before each "
                "instrument's trade is rounded to its lot)"
            )
        )
    if verdict.feasible:
        proven = "" if verdict.optimal else " (not proven maximal, see the note)"
        lines.append(
            f"FEASIBLE: a non-empty fill exists; largest total {verdict.max_total}{proven}"
        )
        header = f"  {'leg':<16}{'lot':>8}{'limit':>10}{'max fill':>10}"
        if verdict.min_fill:
            header += f"{'smallest':>10}"
        lines.append(header)
        assert verdict.max_fill is not None
        for index, leg in enumerate(bundle.legs):
            row = (
                f"  {leg.label:<16}{leg.lot_size:>8}{leg.max_qty:>10}{verdict.max_fill[index]:>10}"
            )
            if verdict.min_fill:
                row += f"{verdict.min_fill[index]:>10}"
            lines.append(row)
        if verdict.reason:
            lines.append(f"  note: {verdict.reason}")
        if verdict.min_fill and not verdict.min_optimal:
            lines.append(
                "  note: the smallest fill shown is the smallest found, not proven smallest "
                "within the time limit"
            )
    else:
        lines.append(f"NOT FEASIBLE ({verdict.outcome.value}): {verdict.reason}")
    decided_by = {
        "fast": "the fast path",
        "milp": f"the {verdict.solver} MILP",
    }.get(verdict.path, "the checks, before any solve")
    extra = (
        f", smallest fill by {verdict.solver}"
        if verdict.path == "fast" and verdict.min_fill
        else ""
    )
    lines.append(
        f"  decided by {decided_by}{extra}: rows {verdict.build_ms:.2f} ms, "
        f"solve {verdict.solve_ms:.2f} ms"
    )
    return "\n".join(lines) + "\n"


def _install_stop_handlers(stop: Callable[[], None]) -> None:
    """SIGINT and SIGTERM call ``stop`` (install after importing quickfix: it resets SIGINT)."""

    def handler(signum: int, _frame: object) -> None:
        stop()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


class _Service(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


def _serve(name: str, service: _Service) -> int:
    """Start ``service``, run until SIGINT/SIGTERM, stop it cleanly."""
    stopping = threading.Event()
    _install_stop_handlers(stopping.set)
    try:
        service.start()
    except Exception as exc:  # quickfix raises its own RuntimeError/ConfigError types
        raise GatewayError(f"cannot start the {name}: {exc}") from None
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        service.stop()
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, out: TextIO) -> int:
    from gateway.router.service import Gateway  # noqa: PLC0415 - quickfix resets SIGINT on import

    config = load_config(args.config)
    logs.configure(level=args.log_level, file=args.log_file)
    gateway = Gateway(config, failpoint=_failpoint_from_environment())
    if os.environ.get("BIDGW_TRACEMALLOC"):
        # Measuring only (bench/memory.py): trace the Python heap from here on; tracing
        # the imports too (PYTHONTRACEMALLOC) would take a minute.
        tracemalloc.start()
    return _serve("gateway", gateway)


def _failpoint_from_environment() -> Callable[[str], None]:
    """``BIDGW_FAILPOINT=<name>``: the fault tests' way to kill ``bidgw run`` or ``bidgw
    venue`` at a named crash window (gateway.router.service.Failpoint, the venue's
    ``failpoint``); unset, it does nothing."""
    chosen = os.environ.get("BIDGW_FAILPOINT", "")

    def failpoint(name: str) -> None:
        if chosen and name == chosen:
            os._exit(137)  # as if killed: no cleanup, no logout

    return failpoint


def _cmd_venue(args: argparse.Namespace, out: TextIO) -> int:
    from gateway.venue.app import Venue  # noqa: PLC0415 - see _cmd_run
    from gateway.venue.config import load_venue_config  # noqa: PLC0415 - see _cmd_run

    config = load_venue_config(args.config)
    logs.configure(level=args.log_level, file=args.log_file)
    venue = Venue(config, failpoint=_failpoint_from_environment())

    def reload(_signum: int, _frame: object) -> None:
        """SIGHUP: read the config again and take its symbols (a bad file changes nothing)."""
        try:
            venue.reload(load_venue_config(args.config))
        except Exception as exc:
            structlog.get_logger("bidgw.venue").error("venue.reload_failed", error=str(exc))

    signal.signal(signal.SIGHUP, reload)
    return _serve("venue", venue)


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from gateway.tools.demo import DemoOptions, run_demo  # noqa: PLC0415 - see _cmd_run

    if args.bundles < 0 or args.auctions <= 0:
        raise GatewayError("--bundles must be >= 0 and --auctions > 0")
    logs.configure(level="warning")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return run_demo(
        DemoOptions(
            config_dir=args.config_dir,
            out_dir=args.out,
            bundles=args.bundles,
            auctions=args.auctions,
            seed=args.seed,
            hold=args.hold,
        ),
        out,
    )


def _cmd_submit(args: argparse.Namespace, out: TextIO) -> int:
    from gateway.tools.client import FixClient, submit  # noqa: PLC0415 - see _cmd_run

    config = load_client_config(args.config)
    envelope = parse_envelope(load_yaml(args.payload), source=str(args.payload))
    logs.configure(level="warning")
    client = FixClient(config)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C ends the wait
    try:
        if not client.start(logon_timeout=min(args.timeout, 10.0)):
            answer = client.logout_text
            raise GatewayError(
                f"could not log on to the gateway at {config.host}:{config.port} "
                f"as {config.sender_comp_id}: "
                + (
                    f"it answered {answer!r}"
                    if answer
                    else f"no answer (is it running, and is {config.sender_comp_id} an "
                    "allowed client CompID?)"
                )
            )
        result = submit(
            client,
            envelope.model_dump(mode="json", exclude_none=True),
            list_id=args.list_id,
            timeout=args.timeout,
            wait_done=not args.no_wait,
            cancel_after=args.cancel_after,
        )
        lost = None if client.logged_on.is_set() else (client.logout_text or "disconnected")
    finally:
        client.stop()
    if args.json:
        out.write(json.dumps(result.as_json()) + "\n")
    else:
        out.write(_render_submit(result, reset=config.reset_on_logon))
    if result.status == "no answer":
        sys.stderr.write(f"bidgw submit: no answer from the gateway within {args.timeout} s\n")
        return EXIT_USAGE
    if lost is not None and not result.done:
        sys.stderr.write(
            f"bidgw submit: the session to the gateway ended while waiting ({lost}): "
            "reports after that were not seen\n"
        )
        return EXIT_USAGE
    return EXIT_OK if result.status == "accepted" else EXIT_REJECTED


def _render_submit(result: Any, *, reset: bool) -> str:
    lines = [
        f"{result.list_id}: {result.status.upper()}"
        + (f" ({result.bundle_id})" if result.bundle_id else "")
        + (f": {result.reason}" if result.reason else "")
    ]
    for report in result.reports[1:]:
        if report["type"] == "execution_report" and report["exec_type"] in ("3", "4", "C"):
            lines.append(
                f"  {report['cl_ord_id']}  {report['side']} {report['symbol']}  "
                f"closed ({report['text'] or report['exec_type']})  "
                f"cum {report['cum_qty']}"
            )
        elif report["type"] == "execution_report":
            lines.append(
                f"  {report['cl_ord_id']}  {report['side']} {report['symbol']}  "
                f"exec {report['exec_type']}  last {report['last_qty']} @ "
                f"{report['last_px']}  cum {report['cum_qty']}  "
                f"leaves {report['leaves_qty']}"
            )
        elif report["type"] == "list_status":
            lines.append(f"  list status {report['list_order_status']}: {report['text'] or ''}")
        else:
            lines.append(f"  {report['type']}: {report.get('text')}")
    if result.status == "accepted" and result.done:
        lines.append("  done")
    elif result.status == "accepted":
        lines.append("  still working at the counterparty (wait longer with --timeout)")
        if reset:
            lines.append(
                "  note: this client logs on with reset_on_logon, so a gateway with "
                "cancel_on_disconnect: auto (its default) cancels the desk's open bundles "
                "when it disconnects (after cancel_on_disconnect_grace_secs, 5 s by default); "
                "keep them with reset_on_logon: false and store: file"
            )
    return "\n".join(lines) + "\n"


def _default_config(args: argparse.Namespace) -> None:
    """``--config`` left out: config/gateway.yaml when it exists (check, strategies)."""
    if args.config is None and _DEFAULT_GATEWAY_CONFIG.exists():
        args.config = _DEFAULT_GATEWAY_CONFIG


def _cmd_strategies(args: argparse.Namespace, out: TextIO) -> int:
    _default_config(args)
    registry = _app_config(args).registry()
    for name in registry.names:
        loaded = registry.get(name)
        schema = loaded.plugin.payload_model.model_json_schema()
        fields = ", ".join(schema.get("properties", {}))
        out.write(f"{name}  ({loaded.source})\n    bidder_data: {fields}\n")
        # Templates (and any plugin that offers one) describe themselves further.
        if isinstance(loaded.plugin, StrategySummary):
            for line in loaded.plugin.summary():
                out.write(f"    {line}\n")
        out.write(f"    config: {loaded.config.model_dump_json()}\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bidgw`` console script."""
    args = _build_parser().parse_args(argv)
    try:
        code: int = args.handler(args, sys.stdout)
    except GatewayError as exc:
        sys.stderr.write(f"bidgw {args.command}: {exc}\n")
        _json_error(args, str(exc), getattr(exc, "issues", ()))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: say so briefly, never a bare traceback for users
        sys.stderr.write(
            f"bidgw {args.command}: internal error: {type(exc).__name__}: {exc}\n"
            "please report this with the command you ran\n"
        )
        _json_error(args, f"internal error: {type(exc).__name__}: {exc}", ())
        return EXIT_INTERNAL
    return code


def _json_error(args: argparse.Namespace, error: str, issues: Sequence[FieldIssue]) -> None:
    """With ``--json``, the failure as the one JSON object on stdout too, so a script
    reading stdout always gets one: ``{"error": ..., "issues": [{"path", "reason"}]}``."""
    if getattr(args, "json", False):
        found = [{"path": issue.path, "reason": issue.reason} for issue in issues]
        sys.stdout.write(json.dumps({"error": error, "issues": found}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
