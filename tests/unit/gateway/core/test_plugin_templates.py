"""The loader's side of templates: a ``template:`` entry goes to a template engine (an
entry point in ``bidgw.templates``, or a module:Class path), whose strategy is checked
like any plugin's; lines of the strategies file reach the engine."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from gateway.core.errors import PluginError
from gateway.core.plugins import (
    DEFAULT_TEMPLATE_ENGINE,
    StrategiesFile,
    StrategyRegistry,
    StrategySummary,
    TemplateEngine,
    TemplateSource,
    _yaml_lines,
    parse_envelope,
)

ENGINES = '''
from gateway.core.plugins import StrategyConfig
from strategies.templates import LinearTemplates

SEEN = []


class Recording(LinearTemplates):
    """Delegates to the linear engine, remembering what it was given."""

    def compile(self, name, definition, source):
        SEEN.append((name, dict(definition), source))
        return super().compile(name, definition, source)


class Exploding:
    def compile(self, name, definition, source):
        raise RuntimeError("boom")


class Empty:
    def compile(self, name, definition, source):
        return object()


class NoCompile:
    pass
'''


@pytest.fixture
def engine_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"desk_engines_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(ENGINES)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


TEMPLATE = """\
strategies:
  capped:
    {plugin}template:
      parameters:
        cap: {{type: integer, min: 1}}
      constraints:
        - name: cap
          expr: sum(fill) <= cap
"""


def _from_text(tmp_path: Path, text: str) -> StrategyRegistry:
    path = tmp_path / "strategies.yaml"
    path.write_text(text)
    return StrategyRegistry.from_file(path)


def test_the_default_engine_is_the_linear_entry_point(tmp_path):
    assert DEFAULT_TEMPLATE_ENGINE == "linear"
    registry = _from_text(tmp_path, TEMPLATE.format(plugin=""))
    loaded = registry.get("capped")
    assert loaded.source == f"template, {tmp_path / 'strategies.yaml'}:3"  # its key
    assert isinstance(loaded.plugin, StrategySummary)
    bundle = registry.build(
        parse_envelope(
            {
                "strategy": "capped",
                "bidder_data": {
                    "cap": 500,
                    "positions": [{"symbol": "AAAA", "side": "Buy", "qty": 1000, "price": "1"}],
                },
            }
        )
    )
    assert bundle.metadata["strategy"] == "capped"
    assert bundle.violations((500,)) == []
    assert bundle.violations((600,)) != []


def test_an_engine_by_module_path_gets_the_definition_and_its_lines(tmp_path, engine_module):
    registry = _from_text(
        tmp_path, TEMPLATE.format(plugin=f'plugin: "{engine_module}:Recording"\n    ')
    )
    assert "capped" in registry.names
    ((name, definition, source),) = sys.modules[engine_module].SEEN
    assert name == "capped"
    assert set(definition) == {"parameters", "constraints"}
    assert source.file == str(tmp_path / "strategies.yaml")
    assert source.line(("constraints", 0, "expr")) == 9
    assert source.line(("parameters", "cap", "nonexistent")) == 6  # nearest enclosing key
    assert isinstance(sys.modules[engine_module].Recording(), TemplateEngine)


@pytest.mark.parametrize(
    ("engine", "words"),
    [
        ("nope", "no entry point 'nope' in group 'bidgw.templates'"),
        ("{mod}:Exploding", "template engine '{mod}:Exploding' failed: RuntimeError: boom"),
        ("{mod}:Empty", "is not a strategy: missing name, payload_model, config_model, build"),
        ("{mod}:NoCompile", "is not a template engine: no compile()"),
        ("{mod}:Missing", "cannot load '{mod}:Missing'"),
    ],
)
def test_broken_engines_fail_with_a_plugin_error(tmp_path, engine_module, engine, words):
    engine = engine.format(mod=engine_module)
    with pytest.raises(PluginError) as info:
        _from_text(tmp_path, TEMPLATE.format(plugin=f'plugin: "{engine}"\n    '))
    assert "strategy plugin 'capped'" in str(info.value)
    assert words.format(mod=engine_module) in str(info.value)


def test_template_config_is_validated_like_a_plugins(tmp_path):
    text = TEMPLATE.format(plugin="config: {max_legs: 0}\n    ")
    with pytest.raises(PluginError, match=r"strategies\.capped\.config\.max_legs"):
        _from_text(tmp_path, text)


def test_from_settings_resolves_template_paths_against_base_dir(tmp_path):
    (tmp_path / "t.yaml").write_text("constraints:\n  - {name: c, expr: sum(fill) <= 100}\n")
    settings = StrategiesFile.model_validate({"strategies": {"t": {"template": "t.yaml"}}})
    registry = StrategyRegistry.from_settings(settings, base_dir=tmp_path)
    assert registry.get("t").source == f"template, {tmp_path / 't.yaml'}:1"
    inline = StrategiesFile.model_validate(
        {
            "strategies": {
                "t": {"template": {"constraints": [{"name": "c", "expr": "sum(fill) <= 1"}]}}
            }
        }
    )
    assert StrategyRegistry.from_settings(inline).get("t").source == "template, inline"


def test_template_source_lines_fall_back_to_the_enclosing_key():
    source = TemplateSource("f.yaml", {(): 1, ("a",): 2, ("a", 0): 3})
    assert source.line(("a", 0, "b", "c")) == 3
    assert source.line(("z",)) == 1
    assert TemplateSource().line(("a",)) is None


def test_yaml_lines_walk_aliases_once():
    # A "billion laughs" document: 9 levels of 9 aliases would be 9**9 paths if each
    # alias were walked again.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    found = _yaml_lines("\n".join(lines) + "\n")
    assert found[("a8",)] == 9
    assert len(found) < 200


def test_yaml_lines_of_a_nested_document():
    found = _yaml_lines(
        textwrap.dedent(
            """\
            top:
              list:
                - first
                - {key: value}
            """
        )
    )
    assert found[("top",)] == 1
    assert found[("top", "list", 0)] == 3
    assert found[("top", "list", 1, "key")] == 4
