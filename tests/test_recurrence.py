"""Recurring and all-day schedule items over REST and GraphQL (docs/contract.md §6, "Recurring
and all-day items"): one list entry per occurrence, wall-clock times across DST, exdates,
editing or leaving out one occurrence, the occurrence cap, and invalid rules."""

from __future__ import annotations

from typing import Any

import pytest

from models import ScheduleItem
from resolvers import schedule
from tests.support.calendar_api import create_item, ok, problem, subscribe
from tests.support.client import Account, Api

WEEKLY_BERLIN = {
    "title": "Team sync",
    "start_at": "2026-03-16T10:00:00",
    "end_at": "2026-03-16T11:00:00",
    "timezone": "Europe/Berlin",
    "recurrence": "FREQ=WEEKLY;BYDAY=MO;COUNT=4",
}


async def entries(api: Api, account: Account, **params: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = ok(
        await api.rest("GET", "/schedule-items", account.access_token, params=params)
    )
    return listed


async def test_a_weekly_item_keeps_its_local_time_across_the_dst_change(
    api: Api, alice: Account
) -> None:
    item = await create_item(api, alice, **WEEKLY_BERLIN)
    assert item["recurrence"] == "FREQ=WEEKLY;BYDAY=MO;COUNT=4"
    assert item["occurrence_start_at"] is None  # not a list entry
    listed = await entries(api, alice, start_at="2026-03-01", end_at="2026-05-01")
    assert [e["occurrence_start_at"] for e in listed] == [
        "2026-03-16T09:00:00Z",  # CET
        "2026-03-23T09:00:00Z",
        "2026-03-30T08:00:00Z",  # CEST: still 10:00 in Berlin
        "2026-04-06T08:00:00Z",
    ]
    assert [e["occurrence_end_at"] for e in listed][2] == "2026-03-30T09:00:00Z"
    assert {e["id"] for e in listed} == {item["id"]}
    assert all(e["original_start_at"] == e["occurrence_start_at"] for e in listed)
    # The range cuts the series: only the occurrences overlapping it.
    inside = await entries(api, alice, start_at="2026-03-29", end_at="2026-04-01")
    assert [e["occurrence_start_at"] for e in inside] == ["2026-03-30T08:00:00Z"]
    row = await ScheduleItem.get(id=item["id"])
    assert row.recurrence == "FREQ=WEEKLY;BYDAY=MO;COUNT=4" and row.series_end_at is not None


async def test_entries_are_ordered_by_occurrence_start_among_single_items(
    api: Api, alice: Account
) -> None:
    await create_item(api, alice, **WEEKLY_BERLIN)
    await create_item(api, alice, title="Dentist", start_at="2026-03-24T08:00:00Z")
    listed = await entries(api, alice, start_at="2026-03-20", end_at="2026-04-01")
    assert [(e["title"], e["occurrence_start_at"]) for e in listed] == [
        ("Team sync", "2026-03-23T09:00:00Z"),
        ("Dentist", "2026-03-24T08:00:00Z"),
        ("Team sync", "2026-03-30T08:00:00Z"),
    ]
    single = listed[1]
    assert single["recurrence"] is None and single["original_start_at"] == single["start_at"]


async def test_exdates_and_a_deleted_occurrence_are_left_out(api: Api, alice: Account) -> None:
    item = await create_item(api, alice, **WEEKLY_BERLIN, exdates=["2026-03-23T10:00:00"])
    assert item["exdates"] == ["2026-03-23T09:00:00Z"]
    r = await api.rest(
        "DELETE",
        f"/schedule-items/{item['id']}",
        alice.access_token,
        params={"occurrence": "2026-03-30T08:00:00Z"},
    )
    assert r.status_code == 204, r.text
    listed = await entries(api, alice, start_at="2026-03-01", end_at="2026-05-01")
    assert [e["occurrence_start_at"] for e in listed] == [
        "2026-03-16T09:00:00Z",
        "2026-04-06T08:00:00Z",
    ]
    # The item itself is still there; deleting a left-out occurrence again is 404.
    ok(await api.rest("GET", f"/schedule-items/{item['id']}", alice.access_token))
    again = await api.rest(
        "DELETE",
        f"/schedule-items/{item['id']}",
        alice.access_token,
        params={"occurrence": "2026-03-30T08:00:00Z"},
    )
    problem(again, 404)


async def test_one_occurrence_is_edited_and_moved_alone(api: Api, alice: Account) -> None:
    item = await create_item(api, alice, **WEEKLY_BERLIN)
    r = await api.rest(
        "PATCH",
        f"/schedule-items/{item['id']}",
        alice.access_token,
        params={"occurrence": "2026-03-23T09:00:00Z"},
        json={"title": "Sync (moved)", "start_at": "2026-03-24T14:00:00Z"},
    )
    edited = ok(r)
    assert edited["title"] == "Sync (moved)"
    assert edited["occurrence_start_at"] == "2026-03-24T14:00:00Z"
    assert edited["occurrence_end_at"] == "2026-03-24T15:00:00Z"
    assert edited["original_start_at"] == "2026-03-23T09:00:00Z"
    listed = await entries(api, alice, start_at="2026-03-01", end_at="2026-05-01")
    assert [(e["title"], e["occurrence_start_at"]) for e in listed] == [
        ("Team sync", "2026-03-16T09:00:00Z"),
        ("Sync (moved)", "2026-03-24T14:00:00Z"),
        ("Team sync", "2026-03-30T08:00:00Z"),
        ("Team sync", "2026-04-06T08:00:00Z"),
    ]
    # The series' own fields did not change.
    assert (
        ok(await api.rest("GET", f"/schedule-items/{item['id']}", alice.access_token))["title"]
        == "Team sync"
    )


async def test_one_occurrence_refuses_series_fields_and_moves_before_the_series(
    api: Api, alice: Account
) -> None:
    item = await create_item(api, alice, **WEEKLY_BERLIN)
    path = f"/schedule-items/{item['id']}"
    params = {"occurrence": "2026-03-23T09:00:00Z"}
    series_only = await api.rest(
        "PATCH", path, alice.access_token, params=params, json={"timezone": "UTC"}
    )
    assert "whole series" in problem(series_only, 422)["detail"]
    early = await api.rest(
        "PATCH",
        path,
        alice.access_token,
        params=params,
        json={"start_at": "2026-03-01T09:00:00Z"},
    )
    problem(early, 422)
    missing = await api.rest(
        "PATCH",
        path,
        alice.access_token,
        params={"occurrence": "2026-03-24T09:00:00Z"},
        json={"title": "x"},
    )
    assert "no occurrence" in problem(missing, 404)["detail"]
    single = await create_item(api, alice, title="Once")
    not_recurring = await api.rest(
        "PATCH",
        f"/schedule-items/{single['id']}",
        alice.access_token,
        params=params,
        json={"title": "x"},
    )
    problem(not_recurring, 400)


async def test_a_viewer_without_the_edit_bit_cannot_change_an_occurrence(
    api: Api, alice: Account, bob: Account
) -> None:
    item = await create_item(api, alice, **WEEKLY_BERLIN)
    await subscribe(api, alice, bob, item["id"])
    assert len(await entries(api, bob, start_at="2026-03-01", end_at="2026-05-01")) == 4
    params = {"occurrence": "2026-03-23T09:00:00Z"}
    path = f"/schedule-items/{item['id']}"
    problem(
        await api.rest("PATCH", path, bob.access_token, params=params, json={"title": "x"}), 403
    )
    problem(await api.rest("DELETE", path, bob.access_token, params=params), 403)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=WEEKLY;BYDAY=TU", "first occurrence"),
        ("FREQ=MINUTELY", "not supported"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z", "COUNT and UNTIL"),
        ("BYDAY=MO", "FREQ is required"),
        ("FREQ=DAILY;COLOR=1", "not a part"),
        ("FREQ=DAILY;UNTIL=20200101", "no occurrence"),
        ("FREQ=DAILY;COUNT=0", "COUNT"),
        ("DTSTART:20260316T100000\nRRULE:FREQ=DAILY", "one RRULE"),
        # Days that never exist: refused from the start's own day, not by walking the rule.
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "first occurrence"),
        ("FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30", "first occurrence"),
        ("FREQ=DAILY;BYSETPOS=1", "only for FREQ=YEARLY or MONTHLY"),
        ("FREQ=WEEKLY;BYMONTHDAY=16", "BYMONTHDAY is only for"),
        ("FREQ=DAILY;BYWEEKNO=12", "BYWEEKNO is only for FREQ=YEARLY"),
        ("FREQ=WEEKLY;BYDAY=1MO", "numbered BYDAY"),
        ("FREQ=DAILY;COUNT=5000;BYMONTH=3;BYMONTHDAY=16", "COUNT=5000 is not reached"),
    ],
)
async def test_invalid_rules_are_422_with_the_reason(
    api: Api, alice: Account, rule: str, reason: str
) -> None:
    body = {**WEEKLY_BERLIN, "recurrence": rule}
    r = await api.rest("POST", "/schedule-items", alice.access_token, json=body)
    detail = problem(r, 422)
    assert reason in detail["detail"], detail
    assert await ScheduleItem.filter(owner_id=alice.id).count() == 0


async def test_occurrences_far_from_the_series_start_are_listed_and_edited(
    api: Api, alice: Account
) -> None:
    """An unbounded series walked from a start centuries away (which dateutil alone does one
    period at a time: minutes for an hourly rule) gives the same wall-clock occurrences."""
    item = await create_item(
        api,
        alice,
        title="Hourly",
        start_at="2026-03-16T10:00:00",
        end_at="2026-03-16T10:30:00",
        timezone="Europe/Berlin",
        recurrence="FREQ=HOURLY;INTERVAL=5",
    )
    listed = await entries(
        api, alice, start_at="2400-07-01T00:00:00Z", end_at="2400-07-02T00:00:00Z"
    )
    # 2026-03-16 10:00 CET is hour 0; 2400-07-01 00:00 UTC is 02:00 CEST, an hour whose distance
    # from the start (in wall-clock hours) is 3,280,984, which leaves 4 when divided by 5.
    starts = [e["occurrence_start_at"] for e in listed]
    assert starts == [
        "2400-07-01T01:00:00Z",
        "2400-07-01T06:00:00Z",
        "2400-07-01T11:00:00Z",
        "2400-07-01T16:00:00Z",
        "2400-07-01T21:00:00Z",
    ]
    one = {"occurrence": "2400-07-01T06:00:00Z"}
    path = f"/schedule-items/{item['id']}"
    r = await api.rest("PATCH", path, alice.access_token, params=one, json={"title": "Far"})
    assert ok(r)["title"] == "Far" and ok(r)["occurrence_start_at"] == "2400-07-01T06:00:00Z"
    not_one = {"occurrence": "2400-07-01T07:00:00Z"}
    # A counted series has no occurrence past its COUNT, however it is walked.
    counted = await create_item(api, alice, **WEEKLY_BERLIN)  # COUNT=4 from 2026-03-16
    fifth = {"occurrence": "2026-04-13T08:00:00Z"}
    counted_path = f"/schedule-items/{counted['id']}"
    problem(await api.rest("DELETE", counted_path, alice.access_token, params=fifth), 404)
    fourth = {"occurrence": "2026-04-06T08:00:00Z"}
    ok(await api.rest("DELETE", counted_path, alice.access_token, params=fourth), 204)
    problem(await api.rest("DELETE", path, alice.access_token, params=not_one), 404)
    monthly = await create_item(
        api,
        alice,
        title="Month end",
        start_at="2026-01-31T09:00:00Z",
        recurrence="FREQ=MONTHLY;BYMONTHDAY=-1",
    )
    listed = await entries(api, alice, start_at="2999-01-15", end_at="2999-04-15")
    assert [(e["title"], e["occurrence_start_at"]) for e in listed if e["id"] == monthly["id"]] == [
        ("Month end", "2999-01-31T09:00:00Z"),
        ("Month end", "2999-02-28T09:00:00Z"),
        ("Month end", "2999-03-31T09:00:00Z"),
    ]


async def test_an_exdate_that_is_not_an_occurrence_is_422(api: Api, alice: Account) -> None:
    body = {**WEEKLY_BERLIN, "exdates": ["2026-03-17T10:00:00"]}
    problem(await api.rest("POST", "/schedule-items", alice.access_token, json=body), 422)


async def test_all_day_items_span_whole_local_days(api: Api, alice: Account) -> None:
    item = await create_item(
        api,
        alice,
        title="Offsite",
        all_day=True,
        start_at="2026-12-24",
        end_at="2026-12-26",
        timezone="Asia/Shanghai",
    )
    assert item["all_day"] is True
    assert (item["start_date"], item["end_date"]) == ("2026-12-24", "2026-12-26")
    assert item["start_at"] == "2026-12-23T16:00:00Z"  # midnight in Shanghai
    assert item["end_at"] == "2026-12-25T16:00:00Z"
    one_day = await create_item(api, alice, title="Holiday", all_day=True, start_at="2026-12-31")
    assert one_day["end_date"] == "2027-01-01"
    with_time = await api.rest(
        "POST",
        "/schedule-items",
        alice.access_token,
        json={"title": "x", "all_day": True, "start_at": "2026-12-24T10:00:00Z"},
    )
    problem(with_time, 422)
    empty = await api.rest(
        "POST",
        "/schedule-items",
        alice.access_token,
        json={"title": "x", "all_day": True, "start_at": "2026-12-24", "end_at": "2026-12-24"},
    )
    problem(empty, 400)


async def test_a_yearly_all_day_item_repeats_on_its_date(api: Api, alice: Account) -> None:
    await create_item(
        api,
        alice,
        title="Birthday",
        all_day=True,
        start_at="2026-05-04",
        timezone="Europe/Berlin",
        recurrence="FREQ=YEARLY",
    )
    listed = await entries(api, alice, start_at="2026-01-01", end_at="2029-01-01")
    assert [e["occurrence_start_at"] for e in listed] == [
        "2026-05-03T22:00:00Z",
        "2027-05-03T22:00:00Z",
        "2028-05-03T22:00:00Z",
    ]


async def test_an_unbounded_series_is_cut_at_the_occurrence_cap(
    api: Api, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schedule, "MAX_OCCURRENCES", 5)
    await create_item(
        api, alice, title="Daily", start_at="2026-01-01T08:00:00Z", recurrence="FREQ=DAILY"
    )
    await create_item(api, alice, title="Late", start_at="2026-01-20T08:00:00Z")
    r = await api.rest(
        "GET", "/schedule-items", alice.access_token, params={"start_at": "2026-01-01"}
    )
    listed = ok(r)
    assert r.headers.get("x-occurrences-truncated") == "true"
    assert [e["occurrence_start_at"][:10] for e in listed] == [
        f"2026-01-0{day}" for day in range(1, 6)
    ]
    small = await api.rest(
        "GET",
        "/schedule-items",
        alice.access_token,
        params={"start_at": "2026-01-01", "end_at": "2026-01-03"},
    )
    assert len(ok(small)) == 3 and "x-occurrences-truncated" not in small.headers


ITEM = (
    "id title recurrence allDay startDate endDate exdates occurrenceStartAt occurrenceEndAt "
    "originalStartAt"
)


async def test_graphql_lists_occurrences_and_edits_one(api: Api, alice: Account) -> None:
    created = await api.gql(
        f"mutation($input: CreateScheduleItemInput!) {{ createScheduleItem(input: $input) "
        f"{{ {ITEM} }} }}",
        {
            "input": {
                "title": "Team sync",
                "startAt": "2026-03-16T10:00:00",
                "endAt": "2026-03-16T11:00:00",
                "timezone": "Europe/Berlin",
                "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4",
            }
        },
        alice.access_token,
    )
    assert "errors" not in created, created
    item = created["data"]["createScheduleItem"]
    assert item["recurrence"] == "FREQ=WEEKLY;BYDAY=MO;COUNT=4" and item["allDay"] is False
    edited = await api.gql(
        f"mutation($id: ID!, $o: DateTime) {{ updateScheduleItem(id: $id, occurrence: $o, "
        f'input: {{title: "Moved"}}) {{ {ITEM} }} }}',
        {"id": item["id"], "o": "2026-03-30T08:00:00Z"},
        alice.access_token,
    )
    assert "errors" not in edited, edited
    assert edited["data"]["updateScheduleItem"]["title"] == "Moved"
    deleted = await api.gql(
        "mutation($id: ID!, $o: DateTime) { deleteScheduleItem(id: $id, occurrence: $o) }",
        {"id": item["id"], "o": "2026-03-23T09:00:00Z"},
        alice.access_token,
    )
    assert deleted["data"] == {"deleteScheduleItem": True}, deleted
    listed = await api.gql(
        f'{{ scheduleItems(startAt: "2026-03-01T00:00:00Z", endAt: "2026-05-01T00:00:00Z") '
        f"{{ {ITEM} }} }}",
        None,
        alice.access_token,
    )
    assert [(e["title"], e["occurrenceStartAt"]) for e in listed["data"]["scheduleItems"]] == [
        ("Team sync", "2026-03-16T09:00:00+00:00"),
        ("Moved", "2026-03-30T08:00:00+00:00"),
        ("Team sync", "2026-04-06T08:00:00+00:00"),
    ]


async def test_graphql_all_day_items_take_dates(api: Api, alice: Account) -> None:
    created = await api.gql(
        f"mutation($input: CreateScheduleItemInput!) {{ createScheduleItem(input: $input) "
        f"{{ {ITEM} }} }}",
        {"input": {"title": "Offsite", "allDay": True, "startDate": "2026-12-24"}},
        alice.access_token,
    )
    assert "errors" not in created, created
    item = created["data"]["createScheduleItem"]
    assert (item["startDate"], item["endDate"]) == ("2026-12-24", "2026-12-25")
    both = await api.gql(
        "mutation($input: CreateScheduleItemInput!) { createScheduleItem(input: $input) { id } }",
        {"input": {"title": "x", "startAt": "2026-12-24T10:00:00Z", "startDate": "2026-12-24"}},
        alice.access_token,
    )
    assert both["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", both
    bad_rule = await api.gql(
        "mutation($input: CreateScheduleItemInput!) { createScheduleItem(input: $input) { id } }",
        {"input": {"title": "x", "startAt": "2026-12-24T10:00:00Z", "recurrence": "FREQ=NEVER"}},
        alice.access_token,
    )
    assert bad_rule["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", bad_rule
