"""iCalendar export, secret feeds and import over REST and GraphQL (docs/contract.md §6,
"iCalendar export, feeds and import"). The export is checked by independent libraries:
`icalendar` parses it and `recurring_ical_events` expands it, and the occurrences must be
exactly those our list returns for the same range."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events  # type: ignore[import-untyped]
from icalendar import Calendar

from models import CalendarFeed, ScheduleItem, ScheduleSubscription
from resolvers import calendar_export
from server.log_redaction import RedactTokens, redact_query, redacted_attributes
from tests.support.calendar_api import create_item, ok, problem
from tests.support.client import Account, Api
from tests.support.mail import MailSink

BERLIN = ZoneInfo("Europe/Berlin")
RANGE = {"start_at": "2026-03-01T00:00:00Z", "end_at": "2026-05-01T00:00:00Z"}
RANGE_START = datetime(2026, 3, 1, tzinfo=UTC)
RANGE_END = datetime(2026, 5, 1, tzinfo=UTC)
Occurrence = tuple[str, datetime, datetime]


def _instant(value: datetime | date) -> datetime:
    # The all-day items of these tests are in Europe/Berlin: a date is its local midnight.
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, time.min, tzinfo=BERLIN).astimezone(UTC)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


async def listed(api: Api, account: Account, **params: str) -> list[Occurrence]:
    """Our occurrences in a range, as (title, start, end); no end is the start (RFC 5545)."""
    entries = ok(
        await api.rest("GET", "/schedule-items", account.access_token, params=params or RANGE)
    )
    result = []
    for e in entries:
        start = _parse(e["occurrence_start_at"])
        end = _parse(e["occurrence_end_at"]) if e["occurrence_end_at"] else start
        result.append((e["title"], start, end))
    return sorted(result, key=lambda o: (o[1], o[0]))


def expanded(
    text: str, start: datetime = RANGE_START, end: datetime = RANGE_END
) -> list[Occurrence]:
    calendar = Calendar.from_ical(text)
    events = recurring_ical_events.of(calendar).between(start, end)
    result = [
        (str(e["SUMMARY"]), _instant(e["DTSTART"].dt), _instant(e["DTEND"].dt))
        if "DTEND" in e
        else (str(e["SUMMARY"]), _instant(e["DTSTART"].dt), _instant(e["DTSTART"].dt))
        for e in events
    ]
    return sorted(result, key=lambda o: (o[1], o[0]))


async def seed(api: Api, owner: Account) -> dict[str, Any]:
    """A weekly Europe/Berlin series across the March DST change with an exdate and a moved,
    retitled occurrence; an all-day item; a plain item; a completed one without an end."""
    series = await create_item(
        api,
        owner,
        title="Team sync",
        description="Weekly; with, commas; and \\ backslashes",
        start_at="2026-03-16T10:00:00",
        end_at="2026-03-16T11:00:00",
        timezone="Europe/Berlin",
        recurrence="FREQ=WEEKLY;BYDAY=MO;COUNT=6",
        exdates=["2026-03-23T10:00:00"],
        metadata={"color": "#336699"},
    )
    moved = await api.rest(
        "PATCH",
        f"/schedule-items/{series['id']}",
        owner.access_token,
        params={"occurrence": "2026-03-30T08:00:00Z"},
        json={"title": "Sync (moved)", "start_at": "2026-03-31T14:00:00Z"},
    )
    ok(moved)
    await create_item(
        api,
        owner,
        title="Conference",
        start_at="2026-03-27",
        end_at="2026-03-30",
        timezone="Europe/Berlin",
        all_day=True,
    )
    await create_item(
        api, owner, title="Dentist", start_at="2026-03-25T12:00:00Z", end_at="2026-03-25T13:00:00Z"
    )
    done = await create_item(api, owner, title="Call back", start_at="2026-04-02T07:30:00Z")
    ok(
        await api.rest(
            "PATCH",
            f"/schedule-items/{done['id']}",
            owner.access_token,
            json={"status": "completed"},
        )
    )
    return series


async def export(api: Api, account: Account, **params: str) -> str:
    r = await api.rest("GET", "/calendar.ics", account.access_token, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    return r.text


async def import_ics(api: Api, account: Account, text: str | bytes) -> Any:
    return await api.rest(
        "POST",
        "/calendar/import",
        account.access_token,
        content=text,
        headers={"content-type": "text/calendar"},
    )


# --- export ----------------------------------------------------------------------------------


async def test_the_export_expands_to_exactly_our_occurrences(api: Api, alice: Account) -> None:
    series = await seed(api, alice)
    text = await export(api, alice)
    calendar = Calendar.from_ical(text)
    assert str(calendar["X-WR-CALNAME"]).startswith("alice")
    events = calendar.events
    master = next(e for e in events if e["SUMMARY"] == "Team sync")
    assert str(master["UID"]) == f"{series['id']}@runtime-api"
    assert master["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert str(master["DESCRIPTION"]) == "Weekly; with, commas; and \\ backslashes"
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} == {"Europe/Berlin"}
    edited = next(e for e in events if "RECURRENCE-ID" in e)
    assert str(edited["UID"]) == str(master["UID"]) and "DTEND" in edited
    completed = next(e for e in events if e["SUMMARY"] == "Call back")
    assert completed["STATUS"] == "CONFIRMED" and completed["X-RUNTIME-STATUS"] == "COMPLETED"
    all_day = next(e for e in events if e["SUMMARY"] == "Conference")
    assert (all_day.start, all_day.end) == (date(2026, 3, 27), date(2026, 3, 30))

    ours = await listed(api, alice)
    assert (
        "Team sync",
        datetime(2026, 3, 30, 8, tzinfo=UTC),
        datetime(2026, 3, 30, 9, tzinfo=UTC),
    ) not in ours
    assert (
        "Sync (moved)",
        datetime(2026, 3, 31, 14, tzinfo=UTC),
        datetime(2026, 3, 31, 15, tzinfo=UTC),
    ) in ours
    assert (
        "Team sync",
        datetime(2026, 4, 6, 8, tzinfo=UTC),
        datetime(2026, 4, 6, 9, tzinfo=UTC),
    ) in ours
    assert len(ours) == 8  # 6 weekly − 1 exdate, the all-day, the plain one, the completed one
    assert expanded(text) == ours
    # A narrower range, across the DST change, cuts both alike.
    narrow = {"start_at": "2026-03-28T00:00:00Z", "end_at": "2026-04-01T00:00:00Z"}
    start, end = datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    assert expanded(text, start, end) == await listed(api, alice, **narrow)


async def test_all_day_and_utc_series_with_edits_round_trip(
    api: Api, alice: Account, bob: Account
) -> None:
    weekly = await create_item(
        api,
        alice,
        title="Gym",
        start_at="2026-03-02",
        timezone="Europe/Berlin",
        all_day=True,
        recurrence="FREQ=WEEKLY;UNTIL=20260406",
        exdates=["2026-03-09"],
    )
    daily = await create_item(
        api,
        alice,
        title="Standup",
        start_at="2026-03-28T09:00:00Z",
        end_at="2026-03-28T09:15:00Z",
        recurrence="FREQ=DAILY;COUNT=5",
    )
    for item, occurrence, change in (
        (weekly, "2026-03-16", {"title": "Gym (pool)"}),
        (
            daily,
            "2026-03-30T09:00:00Z",
            {"start_at": "2026-03-30T11:00:00Z", "status": "cancelled"},
        ),
    ):
        r = await api.rest(
            "PATCH",
            f"/schedule-items/{item['id']}",
            alice.access_token,
            params={"occurrence": occurrence},
            json=change,
        )
        ok(r)
    text = await export(api, alice)
    ours = await listed(api, alice)
    assert ("Gym (pool)", _instant(date(2026, 3, 16)), _instant(date(2026, 3, 17))) in ours
    assert len(ours) == 5 + 5  # 6 Mondays up to April 6 − 1 exdate; 5 days
    assert expanded(text) == ours
    ok(await import_ics(api, bob, text), 201)
    assert await listed(api, bob) == ours
    moved = await ScheduleItem.get(owner_id=bob.id, title="Standup")
    assert moved.overrides == {
        "2026-03-30T09:00:00+00:00": {
            "status": "cancelled",
            "start_at": "2026-03-30T11:00:00+00:00",
            "end_at": "2026-03-30T11:15:00+00:00",
        }
    }


async def test_the_export_holds_shared_items_but_not_deleted_or_foreign_ones(
    api: Api, alice: Account, bob: Account, carol: Account
) -> None:
    mine = await create_item(api, alice, title="Mine")
    gone = await create_item(api, alice, title="Gone")
    ok(await api.rest("DELETE", f"/schedule-items/{gone['id']}", alice.access_token), 204)
    await create_item(api, carol, title="Carol's")
    shared = await create_item(api, bob, title="Bob's")
    await ScheduleSubscription.create(item_id=shared["id"], user_id=alice.id, permission=1)
    calendar = Calendar.from_ical(await export(api, alice))
    assert sorted(str(e["SUMMARY"]) for e in calendar.walk("VEVENT")) == ["Bob's", "Mine"]
    assert f"{mine['id']}@runtime-api" in {str(e["UID"]) for e in calendar.walk("VEVENT")}


async def test_a_range_selects_the_items_and_a_cap_keeps_the_latest(
    api: Api, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in (1, 2, 3):
        await create_item(api, alice, title=f"Day {day}", start_at=f"2026-06-0{day}T09:00:00Z")
    ranged = await export(api, alice, start_at="2026-06-02", end_at="2026-06-02")
    assert [str(e["SUMMARY"]) for e in Calendar.from_ical(ranged).walk("VEVENT")] == ["Day 2"]
    problem(
        await api.rest(
            "GET",
            "/calendar.ics",
            alice.access_token,
            params={"start_at": "2026-06-03", "end_at": "2026-06-01"},
        ),
        400,
    )
    monkeypatch.setattr(calendar_export, "MAX_EXPORT_ITEMS", 2)
    r = await api.rest("GET", "/calendar.ics", alice.access_token)
    assert r.headers["x-calendar-truncated"] == "true"
    summaries = [str(e["SUMMARY"]) for e in Calendar.from_ical(r.text).walk("VEVENT")]
    assert summaries == ["Day 2", "Day 3"]


async def test_the_export_needs_a_bearer_token(api: Api) -> None:
    problem(await api.rest("GET", "/calendar.ics"), 401)


# --- import ----------------------------------------------------------------------------------


async def test_an_import_of_the_export_reproduces_the_occurrences(
    api: Api, alice: Account, bob: Account
) -> None:
    await seed(api, alice)
    text = await export(api, alice)
    r = await import_ics(api, bob, text)
    body = ok(r, 201)
    assert body["imported"] == 4 and len(body["items"]) == 4
    assert await listed(api, bob) == await listed(api, alice)
    rows = await ScheduleItem.filter(owner_id=bob.id)
    by_title = {row.title: row for row in rows}
    assert by_title["Team sync"].recurrence == "FREQ=WEEKLY;COUNT=6;BYDAY=MO"
    assert by_title["Team sync"].metadata == {"color": "#336699"}
    assert by_title["Call back"].status == "completed" and by_title["Call back"].end_at is None
    assert by_title["Conference"].all_day and by_title["Conference"].timezone == "Europe/Berlin"
    # Importing again creates new items (UIDs are not kept).
    ok(await import_ics(api, bob, text), 201)
    assert await ScheduleItem.filter(owner_id=bob.id).count() == 8


def _file(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


GOOD = "UID:good-1\r\nDTSTART:20260401T090000Z\r\nDTEND:20260401T100000Z\r\nSUMMARY:Fine"


@pytest.mark.parametrize(
    ("bad_event", "reason"),
    [
        ("UID:bad-2\r\nDTSTART:20260401T090000Z\r\nRRULE:FREQ=SECONDLY", "SECONDLY"),
        ("UID:bad-2\r\nSUMMARY:no start", "DTSTART is required"),
        ("UID:bad-2\r\nDTSTART;TZID=Mars/Olympus:20260401T090000", "Mars/Olympus"),
        ("UID:bad-2\r\nDTSTART:20260401T090000Z\r\nRDATE:20260402T090000Z", "RDATE"),
        ("UID:bad-2\r\nDTSTART:20260401T090000Z\r\nDTEND:20260401T080000Z", "end_at"),
        ("UID:bad-2\r\nDTSTART:2026XX01", "DTSTART"),
        (
            "UID:bad-2\r\nRECURRENCE-ID:20260401T090000Z\r\nDTSTART:20260401T090000Z",
            "no series",
        ),
    ],
)
async def test_a_bad_event_is_422_naming_it_and_nothing_is_written(
    api: Api, alice: Account, bad_event: str, reason: str
) -> None:
    body = problem(await import_ics(api, alice, _file(GOOD, bad_event)), 422)
    assert "event 2 (UID bad-2)" in body["detail"], body
    assert reason in body["detail"], body
    assert await ScheduleItem.all().count() == 0


async def test_a_bad_edited_occurrence_is_named_itself(api: Api, alice: Account) -> None:
    series = "UID:s\r\nDTSTART:20260401T090000Z\r\nRRULE:FREQ=DAILY;COUNT=3"
    edit = "UID:s\r\nRECURRENCE-ID:20260402T100000Z\r\nDTSTART:20260402T120000Z"
    body = problem(await import_ics(api, alice, _file(GOOD, series, edit)), 422)
    assert body["detail"].startswith("Invalid iCalendar file: event 3 (UID s): RECURRENCE-ID")
    assert body["errors"][0]["loc"] == ["body", "VEVENT", 2]
    assert await ScheduleItem.all().count() == 0


async def test_rules_counting_too_many_occurrences_are_422(api: Api, alice: Account) -> None:
    rules = [
        f"UID:r{i}\r\nDTSTART:20260401T090000Z\r\nRRULE:FREQ=DAILY;COUNT=5000" for i in range(11)
    ]
    body = problem(await import_ics(api, alice, _file(*rules)), 422)
    assert "50000 occurrences" in body["detail"]
    assert await ScheduleItem.all().count() == 0


async def test_a_file_that_is_not_icalendar_is_422(api: Api, alice: Account) -> None:
    problem(await import_ics(api, alice, "hello world"), 422)
    problem(await import_ics(api, alice, b"\xff\xfe\x00garbage"), 422)
    assert await ScheduleItem.all().count() == 0


async def test_too_many_events_is_422_and_an_oversized_file_413(api: Api, alice: Account) -> None:
    many = _file(*[f"UID:e{i}\r\nDTSTART:20260401T090000Z" for i in range(1001)])
    body = problem(await import_ics(api, alice, many), 422)
    assert "1000 events" in body["detail"]
    padding = "DESCRIPTION:" + "x" * 70 + "\r\n"
    huge = _file(GOOD + "\r\n" + padding * 16000)
    assert len(huge) > 1 << 20
    problem(await import_ics(api, alice, huge), 413)
    assert await ScheduleItem.all().count() == 0


async def test_import_reads_floating_times_durations_and_windows_zones(
    api: Api, alice: Account
) -> None:
    text = _file(
        "UID:a\r\nDTSTART:20260401T090000\r\nDURATION:PT30M\r\nSUMMARY:Floating",
        "UID:b\r\nDTSTART;TZID=W. Europe Standard Time:20260401T090000\r\nSUMMARY:Windows",
    )
    ok(await import_ics(api, alice, text), 201)
    rows = {row.title: row for row in await ScheduleItem.filter(owner_id=alice.id)}
    assert rows["Floating"].timezone == "UTC"  # the user's zone
    floating = rows["Floating"]
    assert floating.end_at is not None
    assert floating.end_at - floating.start_at == timedelta(minutes=30)
    assert rows["Windows"].timezone == "Europe/Berlin"
    assert rows["Windows"].start_at == datetime(2026, 4, 1, 7, tzinfo=UTC)


# --- feeds -----------------------------------------------------------------------------------


async def create_feed(api: Api, account: Account, name: str = "Phone") -> dict[str, Any]:
    r = await api.rest("POST", "/calendar/feeds", account.access_token, json={"name": name})
    created: dict[str, Any] = ok(r, 201)
    return created


def feed_path(created: dict[str, Any]) -> str:
    return f"/api/v1/calendar/feeds/{created['token']}.ics"


async def fetched_feed(api: Api, created: dict[str, Any]) -> str:
    """The feed's calendar, fetched as an app does: no Authorization header."""
    r = await api.client.get(feed_path(created))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    return r.text


async def test_a_feed_serves_the_calendar_without_a_bearer_until_revoked(
    api: Api, alice: Account, bob: Account
) -> None:
    await seed(api, alice)
    created = await create_feed(api, alice)
    assert set(created) == {"id", "name", "url", "token", "created_at"}
    assert created["url"].endswith(feed_path(created)) and created["url"].startswith("http")
    # The token is not stored in clear: only its SHA-256.
    row = await CalendarFeed.get(id=created["id"])
    assert row.token_hash == hashlib.sha256(created["token"].encode()).hexdigest()
    assert created["token"] not in str(vars(row))

    fetched = await api.client.get(feed_path(created))
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"] == "text/calendar; charset=utf-8"
    assert Calendar.from_ical(fetched.text)["X-WR-CALNAME"] == "Phone"
    assert expanded(fetched.text) == await listed(api, alice)
    assert (await CalendarFeed.get(id=created["id"])).last_used_at is not None

    feeds = ok(await api.rest("GET", "/calendar/feeds", alice.access_token))
    assert [f["id"] for f in feeds] == [created["id"]]
    assert "token" not in feeds[0] and "url" not in feeds[0] and feeds[0]["last_used_at"]
    assert ok(await api.rest("GET", "/calendar/feeds", bob.access_token)) == []

    # Another user cannot revoke it (404, as for an unknown id); the owner can.
    problem(await api.rest("DELETE", f"/calendar/feeds/{created['id']}", bob.access_token), 404)
    problem(await api.rest("DELETE", "/calendar/feeds/not-a-uuid", alice.access_token), 404)
    ok(await api.rest("DELETE", f"/calendar/feeds/{created['id']}", alice.access_token), 204)
    problem(await api.client.get(feed_path(created)), 404)
    problem(await api.rest("DELETE", f"/calendar/feeds/{created['id']}", alice.access_token), 404)
    problem(await api.client.get("/api/v1/calendar/feeds/unknown-token.ics"), 404)


async def test_a_user_holds_at_most_20_feeds(api: Api, alice: Account) -> None:
    for n in range(20):
        await create_feed(api, alice, f"feed {n}")
    body = problem(await api.rest("POST", "/calendar/feeds", alice.access_token, json={}), 409)
    assert "20" in body["detail"]
    problem(await api.rest("POST", "/calendar/feeds", alice.access_token, json={"name": ""}), 422)


async def test_a_feed_without_a_body_gets_the_default_name(api: Api, alice: Account) -> None:
    created = ok(await api.rest("POST", "/calendar/feeds", alice.access_token), 201)
    assert created["name"] == "Runtime API"


@pytest.mark.parametrize(
    "settings_overrides", [{"rate_limit_calendar_feed": "2/hour"}], indirect=True
)
async def test_a_feed_is_rate_limited_per_token(api: Api, alice: Account) -> None:
    first, second = await create_feed(api, alice), await create_feed(api, alice)
    for _ in range(2):
        await fetched_feed(api, first)
    limited = problem(await api.client.get(feed_path(first)), 429)
    assert limited and (await api.client.get(feed_path(first))).headers["retry-after"]
    await fetched_feed(api, second)  # another feed has its own count


async def test_a_password_recovery_revokes_the_feeds(api: Api, mail: MailSink) -> None:
    ann = await api.sign_up("ann", "ann@example.com", password="old password")
    created = await create_feed(api, ann)
    await fetched_feed(api, created)
    before = len(mail.to(ann.email))
    ok(await api.rest("POST", "/auth/resend", json={"type": "recovery", "email": ann.email}), 204)
    code = await mail.code_for(ann.email, before + 1)
    verify = {"type": "recovery", "email": ann.email, "token": code, "new_password": "new pw 123"}
    ok(await api.rest("POST", "/auth/verify", json=verify), 204)
    problem(await api.client.get(feed_path(created)), 404)
    assert await CalendarFeed.filter(user_id=ann.id).count() == 0


# --- redaction -------------------------------------------------------------------------------

TOKEN = "s3cr3t-TOKEN_value"


def test_feed_tokens_are_redacted_from_paths() -> None:
    assert redact_query(f"/api/v1/calendar/feeds/{TOKEN}.ics") == (
        "/api/v1/calendar/feeds/[redacted].ics"
    )
    assert redact_query(f"/api/v1/calendar/feeds/{TOKEN}%2Eics?access_token=x&a=1") == (
        "/api/v1/calendar/feeds/[redacted]%2Eics?access_token=[redacted]&a=1"
    )
    # A feed id (DELETE /calendar/feeds/{id}) is not a secret and stays readable.
    feed_id = "/api/v1/calendar/feeds/0b8e5c1e-9a7f-4f59-9d55-0e1d4f0c3a21"
    assert redact_query(feed_id) == feed_id


def test_the_access_log_line_of_a_feed_fetch_has_no_token() -> None:
    # uvicorn's access record: client, method, path with query, HTTP version, status.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/v1/calendar/feeds/{TOKEN}.ics", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    line = record.getMessage()
    assert TOKEN not in line and "/api/v1/calendar/feeds/[redacted].ics" in line


def test_a_trace_span_of_a_feed_fetch_has_no_token() -> None:
    # What server/http_tracing.py sets on a request's span (that module is not imported here:
    # it loads OpenTelemetry, which tests/test_tracing.py checks is absent when tracing is off).
    attributes = {
        "url.path": f"/api/v1/calendar/feeds/{TOKEN}.ics",
        "http.target": f"/api/v1/calendar/feeds/{TOKEN}.ics?x=1",
        "url.query": "access_token=abc&x=1",
        "http.route": "/api/v1/calendar/feeds/{token}.ics",
        "http.status_code": 200,
    }
    assert redacted_attributes(attributes) == {
        "url.path": "/api/v1/calendar/feeds/[redacted].ics",
        "http.target": "/api/v1/calendar/feeds/[redacted].ics?x=1",
        "url.query": "access_token=[redacted]&x=1",
    }


# --- GraphQL ---------------------------------------------------------------------------------


async def test_graphql_exports_and_imports(api: Api, alice: Account, bob: Account) -> None:
    await seed(api, alice)
    exported = await api.gql("{ calendarExport }", None, alice.access_token)
    assert "errors" not in exported, exported
    text = exported["data"]["calendarExport"]
    assert expanded(text) == await listed(api, alice)
    imported = await api.gql(
        "mutation($ics: String!) { importCalendar(ics: $ics) { imported items } }",
        {"ics": text},
        bob.access_token,
    )
    assert "errors" not in imported, imported
    assert imported["data"]["importCalendar"]["imported"] == 4
    assert await listed(api, bob) == await listed(api, alice)


async def test_graphql_import_of_a_bad_file_is_bad_user_input(api: Api, alice: Account) -> None:
    bad = _file(GOOD, "UID:bad-2\r\nDTSTART:20260401T090000Z\r\nRRULE:FREQ=SECONDLY")
    answer = await api.gql(
        "mutation($ics: String!) { importCalendar(ics: $ics) { imported } }",
        {"ics": bad},
        alice.access_token,
    )
    error = answer["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "bad-2" in error["message"]
    assert await ScheduleItem.all().count() == 0


@pytest.mark.parametrize("settings_overrides", [{"max_body_bytes": 4 << 20}], indirect=True)
async def test_graphql_import_over_the_cap_is_payload_too_large(api: Api, alice: Account) -> None:
    huge = _file(GOOD + "\r\n" + ("DESCRIPTION:" + "x" * 70 + "\r\n") * 16000)
    answer = await api.gql(
        "mutation($ics: String!) { importCalendar(ics: $ics) { imported } }",
        {"ics": huge},
        alice.access_token,
    )
    assert answer["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE", answer
    assert await ScheduleItem.all().count() == 0


async def test_graphql_feeds_are_created_listed_and_revoked(api: Api, alice: Account) -> None:
    created = await api.gql(
        'mutation { createCalendarFeed(name: "Tablet") { id name url token createdAt } }',
        None,
        alice.access_token,
    )
    assert "errors" not in created, created
    feed = created["data"]["createCalendarFeed"]
    assert feed["name"] == "Tablet" and feed["url"].endswith(f"/feeds/{feed['token']}.ics")
    await fetched_feed(api, feed)
    listed_feeds = await api.gql(
        "{ calendarFeeds { id name createdAt lastUsedAt } }", None, alice.access_token
    )
    assert [f["id"] for f in listed_feeds["data"]["calendarFeeds"]] == [feed["id"]]
    assert listed_feeds["data"]["calendarFeeds"][0]["lastUsedAt"] is not None
    revoked = await api.gql(
        "mutation($id: ID!) { revokeCalendarFeed(id: $id) }", {"id": feed["id"]}, alice.access_token
    )
    assert revoked["data"] == {"revokeCalendarFeed": True}, revoked
    problem(await api.client.get(feed_path(feed)), 404)
    again = await api.gql(
        "mutation($id: ID!) { revokeCalendarFeed(id: $id) }", {"id": feed["id"]}, alice.access_token
    )
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"
