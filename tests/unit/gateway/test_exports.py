"""The public surface is deliberate: adding or removing a name is a decision."""

import gateway


def test_exported_members():
    assert sorted(gateway.__all__) == sorted(
        [
            "BidderPayload",
            "BuildContext",
            "BundleError",
            "CommandPlugin",
            "ConfigError",
            "ConfigPath",
            "Constraint",
            "FieldIssue",
            "FillCheck",
            "FillDescriber",
            "GatewayError",
            "Leg",
            "OrderBundle",
            "Outcome",
            "PayloadError",
            "PluginError",
            "PreSolver",
            "PresolveConfig",
            "Sense",
            "Side",
            "Strategy",
            "StrategyConfig",
            "StrategyRegistry",
            "UnknownStrategyError",
            "Verdict",
            "__version__",
            "parse_envelope",
        ]
    )
    for name in gateway.__all__:
        assert hasattr(gateway, name), name
