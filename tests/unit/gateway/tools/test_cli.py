"""``bidgw check``: output contract and exit codes."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.tools.cli import main
from tests.conftest import ROOT, SAMPLES


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_feasible_sample_json(capsys):
    code, out, err = run(capsys, "check", str(SAMPLES / "hedge_seed.yaml"), "--json")
    assert code == 0
    assert err == ""
    document = json.loads(out)  # exactly one JSON object
    assert set(document) == {"strategy", "feasible", "reason", "max_fill"}
    assert document["strategy"] == "single_factor_hedged"
    assert document["feasible"] is True
    assert document["reason"] is None
    assert document["max_fill"] == [
        {"symbol": "AAAA", "side": "buy", "qty": 1800},
        {"symbol": "BBBB", "side": "sell", "qty": 0},
        {"symbol": "CCCC", "side": "buy", "qty": 800},
    ]


def test_infeasible_sample_json_has_reason_and_exit_1(capsys):
    code, out, _ = run(capsys, "check", str(SAMPLES / "hedge_seed_too_small.yaml"), "--json")
    assert code == 1
    document = json.loads(out)
    assert document["feasible"] is False
    assert document["max_fill"] == []
    assert "AAAA 900 above its limit 500" in document["reason"]


def test_human_output_shows_fills_and_smallest(capsys):
    code, out, _ = run(
        capsys,
        "check",
        str(SAMPLES / "hedge_seed.yaml"),
        "--config",
        str(ROOT / "config" / "gateway.yaml"),
    )
    assert code == 0
    assert "FEASIBLE" in out
    assert "largest total 2600" in out
    line = next(line for line in out.splitlines() if line.strip().startswith("buy AAAA"))
    assert line.split()[-2:] == ["1800", "900"]


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.yaml")))
def test_every_bundled_sample_checks_cleanly(capsys, sample):
    code, out, err = run(
        capsys,
        "check",
        str(SAMPLES / sample),
        "--json",
        "--config",
        str(ROOT / "config" / "gateway.yaml"),
    )
    assert code in (0, 1)
    assert err == ""
    assert json.loads(out)["feasible"] is (code == 0)


def test_solver_override_cbc(capsys):
    code, out, _ = run(capsys, "check", str(SAMPLES / "beta_seed.yaml"), "--solver", "cbc")
    assert code == 0
    # The fast path decides the seed sample; CBC finds the smallest fill.
    assert "decided by the fast path, smallest fill by cbc" in out


def _payload(tmp_path: Path, text: str) -> str:
    path = tmp_path / "payload.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


HEDGE = """
strategy: single_factor_hedged
bidder_data:
  target_hedge_ratio: 2
  positions:
    - {symbol: AAAA, side: Buy,  hedge_qty_coeff: 4,   qty: 2000, price: "10.00"}
    - {symbol: BBBB, side: Sell, hedge_qty_coeff: -12, qty: 1000, price: "20.00"}
"""


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("qty: 2000", "qty: 0", "bidder_data.positions[0].qty"),
        ("qty: 2000", "qty: -100", "bidder_data.positions[0].qty"),
        ("hedge_qty_coeff: -12", "hedge_qty_coeff: 12", "bidder_data"),
        ("target_hedge_ratio: 2", "hedge_ratio_min: 2\n  hedge_ratio_max: 3", "bidder_data"),
        (
            "target_hedge_ratio: 2",
            "hedge_ratio_min: '0.5'\n  hedge_ratio_max: '0.1'",
            "bidder_data",
        ),
        ('price: "10.00"', "price: .nan", "bidder_data.positions[0].price"),
        (
            "hedge_qty_coeff: 4,",
            "hedge_qty_coeff: .inf,",
            "bidder_data.positions[0].hedge_qty_coeff",
        ),
        ("symbol: BBBB, side: Sell", "symbol: AAAA, side: BUY", "bidder_data"),
        ("side: Buy,", "side: Hold,", "bidder_data.positions[0].side"),
        ("strategy: single_factor_hedged", "strategy: no_such", "strategy"),
        ("bidder_data:", "bidder_dat:", "bidder_data"),
    ],
)
def test_invalid_payload_exits_2_naming_the_field(capsys, tmp_path, old, new, field):
    path = _payload(tmp_path, HEDGE.replace(old, new, 1))
    code, out, err = run(capsys, "check", path, "--json")
    assert code == 2
    assert field in err
    assert "Traceback" not in err
    # stdout still holds exactly one JSON object: the error, each issue by its path.
    document = json.loads(out)
    assert set(document) == {"error", "issues"}
    assert document["error"] in err
    assert any(issue["path"].startswith(field) for issue in document["issues"]), document


def test_empty_positions_and_bad_beta_tol(capsys, tmp_path):
    path = _payload(tmp_path, "strategy: beta_neutral\nbidder_data: {beta_tol: 0, positions: []}")
    code, _, err = run(capsys, "check", path)
    assert code == 2
    assert "bidder_data.positions" in err
    assert "bidder_data.beta_tol" in err


def test_usage_errors_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "check", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "missing.yaml" in err
    with pytest.raises(SystemExit) as info:
        main(["check"])
    assert info.value.code == 2
    bad_yaml = _payload(tmp_path, "strategy: [unclosed\n")
    code, _, err = run(capsys, "check", bad_yaml)
    assert code == 2
    assert "invalid YAML" in err
    duplicate = _payload(tmp_path, HEDGE + "strategy: beta_neutral\n")
    code, _, err = run(capsys, "check", duplicate)
    assert code == 2
    assert "duplicate key 'strategy'" in err


def test_bad_config_names_file_and_key(capsys, tmp_path):
    config = tmp_path / "gateway.yaml"
    config.write_text("presolve: {time_limit_ms: 0, solver: gurobi}\n")
    code, _, err = run(capsys, "check", str(SAMPLES / "hedge_seed.yaml"), "--config", str(config))
    assert code == 2
    assert str(config) in err
    assert "presolve.time_limit_ms" in err
    assert "presolve.solver" in err


def test_console_script_is_installed_and_runs():
    exe = shutil.which("bidgw") or str(Path(sys.executable).parent / "bidgw")
    result = subprocess.run(
        [exe, "check", str(SAMPLES / "hedge_seed_too_small.yaml"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["feasible"] is False


def test_journal_command_lists_bundles(capsys, tmp_path):
    from gateway.router.journal import Journal, JournalBundle, JournalDecision

    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    session = ("FIX.4.4", "BIDGW", "DESK1")
    journal.accept(
        JournalBundle(
            "B1-1",
            session,
            "L-1",
            ("L-1-1",),
            ("B1-1-1",),
            (100,),
            "8=FIX.4.4\x01",
            "accepted",
            False,
            False,
        ),
        JournalDecision(session, "L-1", True, "accepted", ("L-1-1",), "B1-1", None),
    )
    journal.mark("B1-1", "forwarded")
    journal.close()
    config = tmp_path / "gateway.yaml"
    config.write_text("journal: journal.sqlite\n")
    code, out, _ = run(capsys, "journal", "--config", str(config))
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("B1-1"))
    assert line.split() == ["B1-1", "DESK1", "L-1", "yes", "NO", "no"]
    assert "1 bundles, 1 open" in out


@pytest.mark.parametrize("vacuum", [True, False])
def test_journal_compact_removes_old_rows_and_gives_the_space_back_unless_told_not_to(
    capsys, tmp_path, vacuum
):
    from gateway.router.journal import Journal

    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    for _ in range(2000):
        journal.handled(journal.receive("client", ("FIX.4.4", "BIDGW", "DESK1"), "x" * 1000))
    journal.checkpoint()
    journal.close()
    config = tmp_path / "gateway.yaml"
    config.write_text("journal: journal.sqlite\n")
    before = path.stat().st_size
    flags = () if vacuum else ("--no-vacuum",)
    code, out, _ = run(
        capsys, "journal", "compact", "--config", str(config), "--older-than-hours", "0", *flags
    )
    assert code == 0
    assert "removed 2000 inbox rows" in out
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM inbox").fetchone() == (0,)
    if vacuum:
        assert path.stat().st_size < before / 4
    else:
        assert path.stat().st_size == before


# --- plugin commands (bidgw.commands entry points): bidgw hedge ------------------------

COMMAND_PLUGINS = """
class Greet:
    help = "say hello"

    def configure(self, parser):
        parser.add_argument("who")
        parser.set_defaults(handler=self.run)

    def run(self, args, out):
        out.write(f"hello {args.who}\\n")
        return 0


class Broken:
    help = "breaks while adding its arguments"

    def configure(self, parser):
        parser.add_argument("--x")
        raise RuntimeError("no arguments today")
"""


@pytest.fixture
def command_module(tmp_path, monkeypatch):
    name = f"desk_commands_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(COMMAND_PLUGINS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def commands_from(monkeypatch):
    """Replace the installed bidgw.commands entry points with the given ones."""
    from importlib.metadata import EntryPoint

    from gateway.core import plugins
    from gateway.tools import cli

    def install(**entries: str) -> None:
        points = [
            EntryPoint(name=name, value=value, group=plugins.COMMAND_GROUP)
            for name, value in entries.items()
        ]
        monkeypatch.setattr(cli, "load_commands", lambda: plugins.load_commands(points))

    return install


def test_hedge_is_reached_without_the_cli_importing_the_plugin():
    # The CLI names no plugin module; building its parser loads the entry point's small
    # command module, not the analysis (statsmodels) behind it.
    source = (ROOT / "gateway" / "tools" / "cli.py").read_text()
    assert not re.search(r"^\s*(from|import)\s+strategies\b", source, re.MULTILINE)
    script = (
        "import sys\n"
        "from gateway.tools import cli\n"
        "cli._build_parser()\n"
        "print(sorted(m for m in ('strategies.commands', 'strategies.analysis', 'statsmodels')"
        " if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "['strategies.commands']"


def test_hedge_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["hedge"])
    assert info.value.code == 2
    assert "bidgw hedge: error" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["hedge", "analyze", "--method", "nope", "a.csv", "b.csv"])
    assert info.value.code == 2


def test_plugin_command_runs(capsys, command_module, commands_from):
    commands_from(greet=f"{command_module}:Greet")
    code, out, err = run(capsys, "greet", "desk")
    assert (code, out, err) == (0, "hello desk\n", "")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("no_such_module_xyz:Hedge", "cannot load: ModuleNotFoundError"),
        ("{mod}:Broken", "configure failed: RuntimeError: no arguments today"),
    ],
)
def test_broken_plugin_command_fails_clearly_and_alone(
    capsys, command_module, commands_from, entry, words
):
    commands_from(hedge=entry.format(mod=command_module))
    code, out, err = run(capsys, "hedge", "analyze", "--help", "a.csv")
    assert code == 2
    assert out == ""
    assert err.startswith("bidgw hedge: command plugin 'hedge' (")
    assert words in err
    assert "Traceback" not in err
    # Every other command still works.
    code, out, err = run(capsys, "check", str(SAMPLES / "hedge_seed.yaml"), "--json")
    assert (code, err) == (0, "")
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "unavailable plugin commands: hedge (" in help_text
    assert "failed to load" in help_text


def test_plugin_command_cannot_replace_a_builtin(capsys, command_module, commands_from):
    commands_from(check=f"{command_module}:Greet")
    code, out, _ = run(capsys, "check", str(SAMPLES / "hedge_seed.yaml"), "--json")
    assert code == 0
    assert json.loads(out)["feasible"] is True
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"check ({command_module}:Greet): named like a built-in command" in help_text


def test_status_url_comes_from_the_config_ops_section(tmp_path):
    from gateway.tools.cli import _build_parser, _status_url

    config = tmp_path / "gateway.yaml"
    config.write_text("ops:\n  enabled: true\n  host: 0.0.0.0\n  port: 9123\n")
    parser = _build_parser()
    args = parser.parse_args(["status", "--config", str(config)])
    assert _status_url(args) == "http://127.0.0.1:9123/"  # a wildcard bind, reached on loopback
    args = parser.parse_args(["status", "--url", "http://ops.example:81", "--config", str(config)])
    assert _status_url(args) == "http://ops.example:81/"


def test_status_says_when_the_config_has_no_operator_surface(capsys, tmp_path):
    config = tmp_path / "gateway.yaml"
    config.write_text("ops:\n  enabled: false\n")
    code, _, err = run(capsys, "status", "--config", str(config))
    assert code == 2
    assert "has no operator surface (ops.enabled is false)" in err


def test_journal_list_says_a_venue_config_is_for_compact_only(capsys):
    code, _, err = run(capsys, "journal", "--config", str(ROOT / "config" / "venue.yaml"))
    assert code == 2
    assert "is a venue config: 'bidgw journal' lists the gateway's journal" in err


def test_status_refuses_a_url_that_is_not_http(capsys):
    code, out, err = run(capsys, "status", "--url", "file:///etc/passwd")
    assert (code, out) == (2, "")
    assert "--url must be an http:// or https:// URL" in err


def test_demo_accepts_hold_and_writes_the_page_url_into_its_configs(tmp_path):
    from gateway.tools.cli import _build_parser
    from gateway.tools.demo import _write_configs

    assert _build_parser().parse_args(["demo", "--hold"]).hold is True
    assert _build_parser().parse_args(["demo"]).hold is False
    config_dir = tmp_path / "config"
    shutil.copytree(ROOT / "config", config_dir)
    (tmp_path / "off").mkdir()
    *_, urls = _write_configs(config_dir, tmp_path / "off")
    assert (urls.gateway_page, urls.venue_metrics) == (None, None)  # off in config/
    gateway_yaml = config_dir / "gateway.yaml"
    gateway_yaml.write_text(
        gateway_yaml.read_text().replace("ops:\n  enabled: false", "ops:\n  enabled: true")
    )
    (tmp_path / "on").mkdir()
    _, written, _, urls = _write_configs(config_dir, tmp_path / "on")
    assert urls.gateway_page is not None
    assert urls.gateway_page.startswith("http://127.0.0.1:")
    port = int(urls.gateway_page.rstrip("/").rsplit(":", 1)[1])
    assert f"port: {port}" in written.read_text()
