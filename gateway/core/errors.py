"""The gateway's exception tree.

::

    GatewayError                  root: anything the gateway raises on purpose
    ├── ConfigError               a YAML config file is unreadable or invalid
    ├── PayloadError              a bidder payload is invalid (field path + reason)
    │   └── UnknownStrategyError  it names a strategy this gateway does not have
    ├── PluginError               a strategy plugin cannot be found, loaded or run
    └── BundleError               a strategy built an inconsistent OrderBundle

Context travels as keyword-only attributes (``source=``, ``strategy=``,
``list_id=``, ``cl_ord_id=``, ``session_id=``) so a log line or a FIX reject
can carry it without parsing the message. A bundle the pre-solver rejects is
*not* an exception: it is a :class:`gateway.solver.presolve.Verdict` with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = [
    "BundleError",
    "ConfigError",
    "FieldIssue",
    "GatewayError",
    "PayloadError",
    "PluginError",
    "UnknownStrategyError",
]


class GatewayError(Exception):
    """Root of every error the gateway raises deliberately."""

    def __init__(
        self,
        message: str,
        *,
        session_id: str | None = None,
        list_id: str | None = None,
        cl_ord_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.session_id = session_id
        self.list_id = list_id
        self.cl_ord_id = cl_ord_id


class FieldIssue:
    """One problem with one field: where (a dotted path) and what."""

    __slots__ = ("path", "reason")

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason

    def __repr__(self) -> str:
        return f"FieldIssue({self.path!r}, {self.reason!r})"


def _render(headline: str, issues: Sequence[FieldIssue]) -> str:
    if not issues:
        return headline
    if len(issues) == 1:
        if issues[0].reason == headline:  # said once, with the field it concerns
            return str(issues[0])
        return f"{headline}: {issues[0]}"
    return headline + ":\n" + "\n".join(f"  - {issue}" for issue in issues)


class ConfigError(GatewayError):
    """A configuration file is missing, unreadable or fails validation."""

    def __init__(
        self, message: str, *, source: str | None = None, issues: Sequence[FieldIssue] = ()
    ) -> None:
        headline = f"{source}: {message}" if source else message
        super().__init__(_render(headline, issues))
        self.source = source
        self.issues = tuple(issues)


class PayloadError(GatewayError):
    """A bidder payload is invalid; ``issues`` names each field and reason."""

    def __init__(
        self,
        message: str,
        *,
        issues: Sequence[FieldIssue] = (),
        strategy: str | None = None,
        source: str | None = None,
        list_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        headline = f"{source}: {message}" if source else message
        super().__init__(_render(headline, issues), list_id=list_id, session_id=session_id)
        self.headline = headline
        self.issues = tuple(issues)
        self.strategy = strategy
        self.source = source

    def with_paths(self, rename: Callable[[str], str]) -> PayloadError:
        """The same error, of the same type, with each issue's path renamed (the
        gateway names FIX fields to a desk where a payload file names YAML keys)."""
        issues = [FieldIssue(rename(issue.path), issue.reason) for issue in self.issues]
        return type(self)(
            self.headline,
            issues=issues,
            strategy=self.strategy,
            list_id=self.list_id,
            session_id=self.session_id,
        )


class UnknownStrategyError(PayloadError):
    """The payload names a strategy this gateway does not know (not merely disabled)."""


class PluginError(GatewayError):
    """A strategy plugin cannot be found, imported, validated or run."""

    def __init__(self, message: str, *, plugin: str) -> None:
        super().__init__(f"strategy plugin {plugin!r}: {message}")
        self.plugin = plugin


class BundleError(GatewayError):
    """An OrderBundle is internally inconsistent (a strategy bug, not user input)."""
