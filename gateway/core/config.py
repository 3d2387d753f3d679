"""Config loading shared by every YAML file: validated models, paths relative to the file.

Errors name the file, the key path and what is wrong, e.g.::

    config/gateway.yaml: invalid configuration: presolve.time_limit_ms: Input should be
    greater than 0
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, Field, ValidationError

from gateway.core.errors import ConfigError
from gateway.core.fields import FrozenModel, PositiveInt, TimeOfDay, field_issues
from gateway.core.yamlio import load_yaml

__all__ = ["CompID", "FixFilesConfig", "Port", "load_model"]

_COMP_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")


def _comp_id(value: str) -> str:
    if not _COMP_ID.match(value):
        raise ValueError(f"CompID must be 1-32 letters, digits or _ . -, got {value!r}")
    return value


#: A FIX CompID.
CompID = Annotated[str, AfterValidator(_comp_id)]
#: A TCP port.
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]


class FixFilesConfig(FrozenModel):
    """The FIX session day and QuickFIX's log files (the ``fix:`` key of the gateway's,
    the venue's and the client's config).

    Attributes:
        day_start: the UTC time of day at which every FIX session's day ends and the
            next begins (default ``"00:00:00"``, in quotes). There QuickFIX logs the
            session out, resets both sequence numbers to 1 and empties the message
            store (its files and the index it keeps in memory, one entry per stored
            message); the next logon starts the new day. Both ends of a session must
            use the same time: a desk's engine, the gateway and the venue.
        log_max_mb: a FIX log file (``*.current.log``, messages or events) larger
            than this is copied aside and emptied (default 256;
            :class:`~gateway.fix.filelog.FixLogRotation`).
        log_backups: copies kept of each log, ``.1`` the newest (default 4; 0: the
            log is only emptied).
    """

    day_start: TimeOfDay = "00:00:00"
    log_max_mb: PositiveInt = 256
    log_backups: int = Field(default=4, strict=True, ge=0, le=100)

    def schedule(self) -> dict[str, str]:
        """QuickFIX's StartTime and EndTime: the day starts at ``day_start`` and ends
        one second before it.

        Not StartTime = EndTime: for a day whose StartTime is not after its EndTime,
        QuickFIX 1.16 (``TimeRange::isInSameRange``) tells two moments apart by their
        UTC calendar date, so such a session resets at midnight UTC whatever its
        StartTime. With EndTime one second earlier the range wraps midnight unless it
        starts at 00:00:00 (then 23:59:59 and the calendar date are the same day), and
        QuickFIX resets at ``day_start``. The session is out of hours in that last
        second: logged out, no logon.
        """
        hours, minutes, seconds = (int(part) for part in self.day_start.split(":"))
        end = (hours * 3600 + minutes * 60 + seconds - 1) % 86400
        return {
            "StartTime": self.day_start,
            "EndTime": f"{end // 3600:02d}:{end // 60 % 60:02d}:{end % 60:02d}",
        }


def _resolve(raw: dict[str, Any], base: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """Paths in a config file are relative to the file's directory (``a.b``: key b
    of the mapping under key a)."""
    resolved = dict(raw)
    for key in keys:
        head, _, rest = key.partition(".")
        value = raw.get(head)
        if rest:
            if isinstance(value, dict):
                resolved[head] = _resolve(value, base, (rest,))
        elif isinstance(value, str):
            resolved[key] = (base / value).resolve()
    return resolved


def _load_mapping(path: Path) -> dict[str, Any]:
    raw = load_yaml(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping at the top level", source=str(path))
    return raw


_M = TypeVar("_M", bound=FrozenModel)


def load_model(
    path: Path, model: type[_M], path_keys: tuple[str, ...] = ("store_dir", "fix_log_dir")
) -> _M:
    """Read a YAML file into ``model``; ``path_keys`` are resolved against its folder.

    Raises:
        ConfigError: naming the file, each key path and what is wrong.
    """
    raw = _resolve(_load_mapping(path), path.parent, path_keys)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            "invalid configuration", source=str(path), issues=field_issues(exc, model=model)
        ) from None
