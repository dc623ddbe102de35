import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heatseeker.query.datemath import parse_date
from heatseeker.query.errors import QueryError

# A Wednesday.
NOW = datetime(2026, 11, 25, 10, 30, 15, 123456, tzinfo=UTC)


def dt(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type,misc]


END_MS = 999000  # microseconds of the last millisecond


@pytest.mark.parametrize(
    ("text", "down", "up"),
    [
        # ISO 8601: less than second precision names a period
        ("2026-11-25", dt(2026, 11, 25), dt(2026, 11, 25, 23, 59, 59, END_MS)),
        ("2026-11", dt(2026, 11, 1), dt(2026, 11, 30, 23, 59, 59, END_MS)),
        ("2024-02", dt(2024, 2, 1), dt(2024, 2, 29, 23, 59, 59, END_MS)),
        ("2026-11-25T10", dt(2026, 11, 25, 10), dt(2026, 11, 25, 10, 59, 59, END_MS)),
        ("2026-11-25T10:07", dt(2026, 11, 25, 10, 7), dt(2026, 11, 25, 10, 7, 59, END_MS)),
        # with seconds: an instant
        ("2026-11-25T10:00:00Z", dt(2026, 11, 25, 10), dt(2026, 11, 25, 10)),
        ("2026-11-25T10:00:00", dt(2026, 11, 25, 10), dt(2026, 11, 25, 10)),
        ("2026-11-25 10:00:00", dt(2026, 11, 25, 10), dt(2026, 11, 25, 10)),
        ("2026-11-25t10:00:00z", dt(2026, 11, 25, 10), dt(2026, 11, 25, 10)),
        ("2026-11-25T10:00:00.5Z", dt(2026, 11, 25, 10, 0, 0, 500000), None),
        ("2026-11-25T10:00:00,123456789Z", dt(2026, 11, 25, 10, 0, 0, 123456), None),
        # offsets are converted to UTC
        ("2026-11-25T10:00:00+02:00", dt(2026, 11, 25, 8), None),
        ("2026-11-25T10:00:00+0200", dt(2026, 11, 25, 8), None),
        ("2026-11-25T10:00:00-05", dt(2026, 11, 25, 15), None),
        ("2026-11-25T00:30:00+05:30", dt(2026, 11, 24, 19), None),
        # rounding of an offset date's period happens in its own zone
        ("2026-11-25T10:07+05:30", dt(2026, 11, 25, 4, 37), dt(2026, 11, 25, 4, 37, 59, END_MS)),
        # epoch milliseconds
        ("0", dt(1970, 1, 1), dt(1970, 1, 1)),
        ("1764064800000", dt(2025, 11, 25, 10), None),
        ("1764064800123", dt(2025, 11, 25, 10, 0, 0, 123000), None),
        ("-1000", dt(1969, 12, 31, 23, 59, 59), None),
        ("2026", dt(1970, 1, 1, 0, 0, 2, 26000), None),  # digits are millis, never a year
        # now and date math
        ("now", NOW, NOW),
        ("now-1d", NOW - timedelta(days=1), NOW - timedelta(days=1)),
        ("now+2h", NOW + timedelta(hours=2), None),
        ("now+2H", NOW + timedelta(hours=2), None),
        ("now-90m", NOW - timedelta(minutes=90), None),
        ("now-30s", NOW - timedelta(seconds=30), None),
        ("now-1w", NOW - timedelta(weeks=1), None),
        ("now-d", NOW - timedelta(days=1), None),  # the number defaults to 1
        ("now-1d/d", dt(2026, 11, 24), dt(2026, 11, 24, 23, 59, 59, END_MS)),
        ("now/d", dt(2026, 11, 25), dt(2026, 11, 25, 23, 59, 59, END_MS)),
        ("now/h", dt(2026, 11, 25, 10), dt(2026, 11, 25, 10, 59, 59, END_MS)),
        ("now/H", dt(2026, 11, 25, 10), None),
        ("now/m", dt(2026, 11, 25, 10, 30), dt(2026, 11, 25, 10, 30, 59, END_MS)),
        ("now/s", dt(2026, 11, 25, 10, 30, 15), dt(2026, 11, 25, 10, 30, 15, END_MS)),
        ("now/w", dt(2026, 11, 23), dt(2026, 11, 29, 23, 59, 59, END_MS)),  # weeks start Monday
        ("now/M", dt(2026, 11, 1), dt(2026, 11, 30, 23, 59, 59, END_MS)),
        ("now/y", dt(2026, 1, 1), dt(2026, 12, 31, 23, 59, 59, END_MS)),
        ("now-1M", dt(2026, 10, 25, 10, 30, 15, 123456), None),
        ("now+1y", dt(2027, 11, 25, 10, 30, 15, 123456), None),
        ("now-1y/y", dt(2025, 1, 1), dt(2025, 12, 31, 23, 59, 59, END_MS)),
        ("now/d-1h", dt(2026, 11, 24, 23), dt(2026, 11, 25, 22, 59, 59, END_MS)),
        ("now+1d-1d", NOW, NOW),
        # anchored math: the anchor is never rounded up, only the math after ||
        ("2026-11-25||+1M/d", dt(2026, 12, 25), dt(2026, 12, 25, 23, 59, 59, END_MS)),
        ("2026-11-25||+1d", dt(2026, 11, 26), dt(2026, 11, 26)),
        ("2026-01-31||+1M", dt(2026, 2, 28), None),  # calendar months clamp the day
        ("2024-02-29||+1y", dt(2025, 2, 28), None),
        ("2026-03-31||-1M", dt(2026, 2, 28), None),
        ("2026-11-25T10:00:00+02:00||/d", dt(2026, 11, 25), None),
        ("1764064800000||+1h", dt(2025, 11, 25, 11), None),
        ("2026-11-25||", dt(2026, 11, 25), dt(2026, 11, 25)),
        # surrounding whitespace is ignored
        ("  now-1d  ", NOW - timedelta(days=1), None),
    ],
)
def test_parse_date(text: str, down: datetime, up: datetime | None) -> None:
    result = parse_date(text, NOW)
    assert result == down
    assert result.tzinfo is not None and result.utcoffset() == timedelta(0)
    if up is not None:
        assert parse_date(text, NOW, round_up=True) == up


def test_naive_now_is_utc() -> None:
    assert parse_date("now", datetime(2026, 1, 1, 12)) == dt(2026, 1, 1, 12)


def test_aware_now_is_converted_to_utc() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    result = parse_date("now/d", now)
    assert result == dt(2026, 1, 1)
    assert result.tzinfo == UTC


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    [
        ("", "empty date", 0),
        ("   ", "empty date", 0),
        ("yesterday", "invalid date 'yesterday'", 0),
        ("2026-13-01", "month must be in 1..12", 0),
        ("2026-02-30", "day is out of range", 0),
        ("2026-11-25T25:00", "hour must be in 0..23", 0),
        ("2026-11-25T10:00:00+25:00", "bad time zone offset", 0),
        ("2026-11-25Z", "invalid date", 0),
        ("26-11-25", "invalid date", 0),
        ("2026/11/25", "invalid date", 0),
        ("1.5", "invalid date", 0),
        ("Now", "invalid date", 0),
        ("now-1x", "unknown unit 'x'", 5),
        ("now-1", "missing unit after '-1'", 5),
        ("now-", "missing unit after '-'", 4),
        ("now*1d", "unexpected '*'", 3),
        ("now/2d", "rounding takes a unit and no number", 4),
        ("now/", "missing unit", 4),
        ("nowadays", "unexpected 'a'", 3),
        ("now||-1d", "unexpected '|'", 3),
        ("2026-11-25||1d", "unexpected '1'", 12),
        ("2026-11-25||+1q", "unknown unit 'q'", 14),
        ("bad||+1d", "invalid date 'bad'", 0),
        ("now-1234567890d", "number too large", 4),
        ("now+999999999y", "out of range", 0),
        ("now+999999999w", "out of range", 0),
        ("9999-12-31||+1d", "out of range", 0),
        ("0001-01-01||-1d", "out of range", 0),
        ("99999999999999999", "invalid date", 0),
        ("9999999999999999", "out of range", 0),
        ("٢٠٢٦-11-25", "invalid date", 0),  # only ASCII digits
    ],
)
def test_parse_date_errors(text: str, fragment: str, position: int) -> None:
    with pytest.raises(QueryError) as info:
        parse_date(text, NOW)
    assert fragment in info.value.message
    assert info.value.position == position
    assert str(info.value) == info.value.message


def test_round_up_overflow_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="out of range"):
        parse_date("9999-12-31||/y", NOW, round_up=True)
    assert parse_date("9999-12-31||/y", NOW) == dt(9999, 1, 1)


@given(st.text(max_size=40), st.booleans())
def test_any_text_parses_or_raises_query_error(text: str, round_up: bool) -> None:
    try:
        result = parse_date(text, NOW, round_up)
    except QueryError:
        return
    assert result.tzinfo is not None and result.utcoffset() == timedelta(0)


MATHY = st.text(alphabet="now0123456789-+/||yMwdhHmsT:Z.", max_size=30)


@given(MATHY, st.booleans())
def test_math_like_text_parses_or_raises_query_error(text: str, round_up: bool) -> None:
    with contextlib.suppress(QueryError):
        parse_date(text, NOW, round_up)


@given(st.sampled_from("yMwdhHms"), st.integers(min_value=0, max_value=500))
def test_rounding_brackets_the_moment(unit: str, days: int) -> None:
    moment = NOW - timedelta(days=days, hours=days % 24, seconds=days * 7)
    low = parse_date(f"now/{unit}", moment)
    high = parse_date(f"now/{unit}", moment, round_up=True)
    assert low <= moment <= high
    assert high - low >= timedelta(seconds=1) - timedelta(milliseconds=1)
    # the next unit starts right after the rounded-up end
    assert parse_date(f"now/{unit}", high + timedelta(milliseconds=1)) == high + timedelta(
        milliseconds=1
    )


def test_date_math_operations_are_limited() -> None:
    assert parse_date("now" + "-1d" * 64, NOW) == NOW - timedelta(days=64)
    with pytest.raises(QueryError, match="too many operations") as info:
        parse_date("now" + "-1d" * 65, NOW)
    assert info.value.position == 3 + 64 * 3
    with pytest.raises(QueryError, match="too many operations"):
        parse_date("2026-01-01||" + "/d" * 100_000, NOW)
