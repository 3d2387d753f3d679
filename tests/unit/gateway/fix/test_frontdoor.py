"""The front door's framing and logon check, on bytes (no sockets)."""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.fix import frontdoor
from gateway.fix.frontdoor import (
    FRONT_DOOR_EVENTS,
    REFUSED_CREDENTIALS,
    FrameError,
    LogonPolicy,
    MessageSizes,
    credentials_match,
    frame_length,
    parse_fields,
    parse_logon,
    refusal_logout,
)

LIMIT = 4096


def fix_message(*fields: tuple[int, str | bytes], begin: bytes = b"FIX.4.4") -> bytes:
    """A framed message: BodyLength and CheckSum computed here, independently."""
    body = b"".join(
        b"%d=%s\x01" % (tag, value.encode() if isinstance(value, str) else value)
        for tag, value in fields
    )
    head = b"8=" + begin + b"\x019=%d\x01" % len(body)
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


def logon(*extra: tuple[int, str | bytes], sender: str = "DESK1", target: str = "BIDGW") -> bytes:
    return fix_message(
        (35, "A"),
        (34, "1"),
        (49, sender),
        (52, "20260101-00:00:00.000"),
        (56, target),
        (98, "0"),
        (108, "30"),
        *extra,
    )


@dataclass(frozen=True)
class Cred:
    username: str
    password_sha256: str


SECRET = Cred("desk1", hashlib.sha256(b"s3cret").hexdigest())


# framing -------------------------------------------------------------------------------------
def test_a_complete_message_is_measured_and_a_second_one_is_left_alone():
    first = logon()
    assert frame_length(first, LIMIT) == len(first)
    assert frame_length(first + logon(sender="DESK2"), LIMIT) == len(first)


@pytest.mark.parametrize("cut", [1, 5, 10, 12, 14, 40])
def test_a_partial_message_needs_more_bytes(cut):
    assert frame_length(logon()[:cut], LIMIT) is None


def test_an_empty_buffer_needs_more_bytes():
    assert frame_length(b"", LIMIT) is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "not a FIX 4.4 message"),
        (b"\x16\x03\x01\x02\x00", "not a FIX 4.4 message"),  # a TLS ClientHello
        (fix_message((35, "A"), begin=b"FIX.4.2"), "not a FIX 4.4 message"),
        (b"8=FIX.4.4\x019=abc\x01", "not a number"),
        (b"8=FIX.4.4\x019=\x01", "not a number"),
        (b"8=FIX.4.4\x019=123456789", "at most 7 digits"),
    ],
)
def test_garbage_is_refused_as_soon_as_it_shows(data, why):
    with pytest.raises(FrameError, match=why):
        frame_length(data, LIMIT)


def test_a_message_longer_than_the_limit_is_refused_from_its_header_alone():
    with pytest.raises(FrameError, match="more than 4096"):
        frame_length(b"8=FIX.4.4\x019=5000\x01", LIMIT)
    big = logon((58, "x" * 5000))
    with pytest.raises(FrameError, match="more than 4096"):
        frame_length(big[:30], LIMIT)


def test_a_wrong_checksum_is_refused():
    good = logon()
    bad = good[:-4] + b"%03d\x01" % ((int(good[-4:-1]) + 1) % 256)
    with pytest.raises(FrameError, match="CheckSum"):
        frame_length(bad, LIMIT)


def test_a_body_length_that_misses_the_trailer_is_refused():
    good = logon()
    body_length = int(good.split(b"\x01")[1][2:])
    shifted = good.replace(b"9=%d\x01" % body_length, b"9=%d\x01" % (body_length - 3), 1)
    with pytest.raises(FrameError, match="does not end where CheckSum"):
        frame_length(shifted, LIMIT)


def test_frames_are_measured_on_a_memoryview_of_a_larger_buffer():
    buffer = bytearray(LIMIT)
    message = logon()
    buffer[: len(message)] = message
    assert frame_length(memoryview(buffer)[: len(message)], LIMIT) == len(message)


# fields -------------------------------------------------------------------------------------
def test_a_data_field_is_read_by_its_length_so_an_soh_inside_cannot_add_a_field():
    sneaky = b"x\x01554=s3cret\x01y"
    message = logon((95, str(len(sneaky))), (96, sneaky))
    fields = parse_fields(message)
    assert (96, sneaky) in fields
    assert 554 not in {tag for tag, _ in fields}
    assert parse_logon(message).password is None


def test_a_data_field_without_its_length_right_before_it_is_malformed():
    with pytest.raises(FrameError, match="length field 95"):
        parse_fields(logon((96, "abc")))


def test_a_data_field_shorter_than_announced_is_malformed():
    with pytest.raises(FrameError, match="not as long"):
        parse_fields(logon((95, "100"), (96, "abc")))
    with pytest.raises(FrameError, match="not as long"):
        parse_fields(logon((95, "5"), (96, "abc")))


def test_a_data_field_cannot_swallow_the_checksum():
    message = logon((95, "10"), (96, "abc"))  # abc|10=ccc| is 10 bytes
    assert frame_length(message, LIMIT) == len(message)
    with pytest.raises(FrameError, match="CheckSum"):
        parse_logon(message)


def test_the_logon_fields_are_read_as_sent():
    parsed = parse_logon(logon((141, "Y"), (553, "desk1"), (554, "s3cret")))
    assert parsed.msg_type == b"A"
    assert (parsed.sender_comp_id, parsed.target_comp_id) == (b"DESK1", b"BIDGW")
    assert (parsed.username, parsed.password) == (b"desk1", b"s3cret")
    assert parsed.reset_seq_num


@pytest.mark.parametrize(
    ("message", "why"),
    [
        (logon((554, "a"), (554, "b")), "554 appears more than once"),
        (logon((49, "DESK2")), "49 appears more than once"),
        (fix_message((49, "DESK1"), (35, "A"), (56, "BIDGW")), "third field"),
        (fix_message((35, "A"), (34, "1"), (56, "BIDGW")), "SenderCompID"),
        (fix_message((35, "A"), (34, "1"), (49, "DESK1"), (56, "")), "TargetCompID"),
    ],
)
def test_an_ambiguous_or_incomplete_logon_is_malformed(message, why):
    with pytest.raises(FrameError, match=why):
        parse_logon(message)


# the check ---------------------------------------------------------------------------------
POLICY = LogonPolicy(
    sender_comp_id="BIDGW",
    allowed_comp_ids=frozenset({"DESK1", "DESK2"}),
    credentials={"DESK1": SECRET},
)


def test_a_logon_with_the_right_credentials_passes():
    assert POLICY.refusal(parse_logon(logon((553, "desk1"), (554, "s3cret")))) is None


@pytest.mark.parametrize(
    ("message", "why"),
    [
        (logon((553, "desk1"), (554, "wrong")), REFUSED_CREDENTIALS),
        (logon((553, "someone"), (554, "s3cret")), REFUSED_CREDENTIALS),
        (logon(), REFUSED_CREDENTIALS),
        (logon((553, "d\xe9sk1"), (554, "s3cret")), REFUSED_CREDENTIALS),
        (logon((553, b"desk1\xff"), (554, b"\xff")), REFUSED_CREDENTIALS),
        # DESK2 is allowed but has no credentials while others do: refused.
        (logon((553, "desk1"), (554, "s3cret"), sender="DESK2"), REFUSED_CREDENTIALS),
        (logon(sender="MALLORY"), "logon refused: SenderCompID MALLORY is not allowed"),
        (logon(sender="DESK1\x7f"), "logon refused: SenderCompID DESK1? is not allowed"),
        (logon(target="OTHER"), "logon refused: TargetCompID must be BIDGW"),
    ],
)
def test_a_logon_that_fails_a_check_is_refused_with_the_reason(message, why):
    assert POLICY.refusal(parse_logon(message)) == why


def test_without_configured_credentials_only_the_comp_ids_are_checked():
    open_policy = LogonPolicy(sender_comp_id="BIDGW", allowed_comp_ids=frozenset({"DESK1"}))
    assert open_policy.refusal(parse_logon(logon())) is None


@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [
        ("desk1", "s3cret", True),
        (b"desk1", b"s3cret", True),
        ("desk1", "s3cret!", False),
        ("desk1", None, False),
        (None, "s3cret", False),
        # quickfix hands undecodable bytes over as surrogate escapes: no exception.
        (b"desk1\xff".decode("utf-8", "surrogateescape"), "s3cret", False),
        ("d\xe9sk1", "s3cret", False),
        ("\ud800", "\ud800", False),
    ],
)
def test_credentials_are_compared_as_bytes_and_never_raise(username, password, expected):
    assert credentials_match(SECRET, username, password) is expected


def test_no_expected_credential_never_matches():
    assert not credentials_match(None, "desk1", "s3cret")


def test_a_non_ascii_password_is_hashed_as_utf8():
    cred = Cred("desk1", hashlib.sha256("pässwort".encode()).hexdigest())
    assert credentials_match(cred, "desk1", "pässwort")
    assert credentials_match(cred, b"desk1", "pässwort".encode())


# the refusal ---------------------------------------------------------------------------------
def test_the_refusal_logout_is_a_valid_standalone_message():
    message = refusal_logout("BIDGW", b"DESK1", REFUSED_CREDENTIALS)
    assert frame_length(message, LIMIT) == len(message)
    fields = dict(parse_fields(message))
    assert fields[35] == b"5"
    assert fields[34] == b"1"
    assert (fields[49], fields[56]) == (b"BIDGW", b"DESK1")
    assert fields[58] == REFUSED_CREDENTIALS.encode()


def test_the_refusal_logout_quotes_nothing_unprintable():
    message = refusal_logout("BIDGW", b"\x00\x02", "logon refused: \u00e9\x7f")
    fields = dict(parse_fields(message))
    assert fields[56] == b"??"
    assert fields[58] == b"logon refused: ??"
    assert frame_length(message, LIMIT) == len(message)


# message sizes after the logon ---------------------------------------------------------------
def _sized(body_bytes: int) -> bytes:
    """A message whose body (from MsgType to before CheckSum) is ``body_bytes`` long."""
    filler = b"x" * max(0, body_bytes - len(b"35=0\x0158=\x01"))
    body = b"35=0\x0158=" + filler + b"\x01"
    return b"8=FIX.4.4\x019=%d\x01" % len(body) + body + b"10=000\x01"


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(
    bodies=st.lists(st.integers(10, 400), min_size=1, max_size=8),
    garbage=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"8", b"7")), max_size=8),
    cuts=st.lists(st.integers(0, 4000), max_size=12),
)
def test_messages_within_the_limit_pass_however_the_stream_is_cut(bodies, garbage, cuts):
    stream = b"".join(g + _sized(n) for g, n in zip(garbage + [b""] * 8, bodies, strict=False))
    sizes = MessageSizes(limit=max(len(_sized(n)) for n in bodies))
    assert all(sizes.feed(chunk) is None for chunk in _chunks(stream, cuts))


@given(
    before=st.lists(st.integers(10, 300), max_size=5),
    cuts=st.lists(st.integers(0, 3000), max_size=12),
)
def test_the_first_message_over_the_limit_is_named_with_its_size(before, cuts):
    big = _sized(600)
    stream = b"".join(_sized(n) for n in before) + big + _sized(20)
    sizes = MessageSizes(limit=len(big) - 1)
    answers = [sizes.feed(chunk) for chunk in _chunks(stream, cuts)]
    assert [a for a in answers if a is not None][:1] == [len(big)]


def test_a_body_length_of_eight_digits_is_over_any_sane_limit():
    assert MessageSizes(limit=2**20).feed(b"8=FIX.4.4\x019=12345678\x01") == 10**8
    assert MessageSizes(limit=2**20).feed(b"8=FIX.4.4\x019=1234") is None  # more to come


def test_a_prefix_with_no_number_is_not_a_message_start():
    sizes = MessageSizes(limit=100)
    assert sizes.feed(b"8=FIX.4.4\x019=abc\x01" + _sized(20)) is None
    assert sizes.feed(_sized(200)) == len(_sized(200))


def test_every_event_the_front_door_counts_is_exported():
    # /metrics exports FRONT_DOOR_EVENTS only: an event counted under another name
    # would never reach an operator.
    source = Path(frontdoor.__file__).read_text()
    counted = set(re.findall(r"""(?:\.event\(|tally\.add\()\s*["'](\w+)["']""", source))
    assert counted  # the pattern still finds them
    assert counted <= set(FRONT_DOOR_EVENTS), counted - set(FRONT_DOOR_EVENTS)
    assert len(set(FRONT_DOOR_EVENTS)) == len(FRONT_DOOR_EVENTS)
