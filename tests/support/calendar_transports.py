"""The calendar operations of docs/contract.md §3 over either door, as normalized `Outcome`s."""

from __future__ import annotations

import re
from typing import Any

from tests.support.transports import Outcome, Transport, camel

ITEM_FIELDS = (
    "id title description startAt endAt timezone metadata status sourceType permission "
    "allDay startDate endDate recurrence exdates occurrenceStartAt occurrenceEndAt originalStartAt"
)
REQUEST_FIELDS = "id status content"
MESSAGE_FIELDS = "id status messageType isRead permission"

CREATE_ITEM = f"""mutation($input: CreateScheduleItemInput!) {{
  createScheduleItem(input: $input) {{ {ITEM_FIELDS} }} }}"""
UPDATE_ITEM = f"""mutation($id: ID!, $input: UpdateScheduleItemInput!, $o: DateTime) {{
  updateScheduleItem(id: $id, input: $input, occurrence: $o) {{ {ITEM_FIELDS} }} }}"""
DELETE_ITEM = "mutation($id: ID!, $o: DateTime) { deleteScheduleItem(id: $id, occurrence: $o) }"
GET_ITEM = f"query($id: ID!) {{ scheduleItem(id: $id) {{ {ITEM_FIELDS} }} }}"
SHARE_ITEM = """mutation($id: ID!, $input: ShareScheduleItemInput!) {
  shareScheduleItem(id: $id, input: $input) { message } }"""
SEND_REQUEST = f"""mutation($input: SendFriendRequestInput!) {{
  sendFriendRequest(input: $input) {{ {REQUEST_FIELDS} }} }}"""
ACCEPT_REQUEST = f"mutation($id: ID!) {{ acceptFriendRequest(id: $id) {{ {REQUEST_FIELDS} }} }}"
DECLINE_REQUEST = f"mutation($id: ID!) {{ declineFriendRequest(id: $id) {{ {REQUEST_FIELDS} }} }}"
CANCEL_REQUEST = "mutation($id: ID!) { cancelFriendRequest(id: $id) }"
REMOVE_FRIEND = "mutation($id: ID!) { removeFriend(id: $id) }"
ACCEPT_MESSAGE = f"""mutation($id: ID!, $input: AcceptInboxMessageInput) {{
  acceptInboxMessage(id: $id, input: $input) {{ {MESSAGE_FIELDS} }} }}"""
DISMISS_MESSAGE = f"mutation($id: ID!) {{ dismissInboxMessage(id: $id) {{ {MESSAGE_FIELDS} }} }}"
LIST_ITEMS = f"""query($s: DateTime, $e: DateTime) {{
  scheduleItems(startAt: $s, endAt: $e) {{ {ITEM_FIELDS} }} }}"""


ENUM_FIELDS = ("status", "source_type", "message_type")
# Instants: GraphQL writes UTC as +00:00, REST (pydantic, orjson) as Z.
INSTANT_FIELDS = (
    "start_at",
    "end_at",
    "created_at",
    "updated_at",
    "occurrence_start_at",
    "occurrence_end_at",
    "original_start_at",
    "exdates",
)
_DATE_ALONE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _camel_input(body: dict[str, Any]) -> dict[str, Any]:
    """REST body -> GraphQL input: camelCase names, enum values in GraphQL's upper case; the
    dates of an all-day item (REST's start_at/end_at) as GraphQL's startDate/endDate."""
    values = {}
    for key, value in body.items():
        day = isinstance(value, str) and _DATE_ALONE.fullmatch(value) is not None
        dates = body.get("all_day") and day and key in ("start_at", "end_at")
        name = key.removesuffix("_at") + "_date" if dates else key
        values[camel(name)] = value.upper() if key in ENUM_FIELDS else value
    return values


def _rest_instant(value: Any) -> Any:
    if isinstance(value, list):
        return [_rest_instant(v) for v in value]
    if isinstance(value, str) and value.endswith("+00:00"):
        return value.removesuffix("+00:00") + "Z"
    return value


def _rest_spelling(value: Any) -> Any:
    """GraphQL enum values and UTC instants back in the REST spelling, so both doors' payloads
    compare."""
    if isinstance(value, list):
        return [_rest_spelling(v) for v in value]
    if isinstance(value, dict):
        return {k: _rest_field(k, v) for k, v in value.items()}
    return value


def _rest_field(name: str, value: Any) -> Any:
    if name in ENUM_FIELDS and isinstance(value, str):
        return value.lower()
    if name in INSTANT_FIELDS:
        return _rest_instant(value)
    return _rest_spelling(value)


class CalendarTransport(Transport):
    async def _gql(
        self, query: str, field_name: str, variables: dict[str, Any], token: str | None = None
    ) -> Outcome:
        outcome = await super()._gql(query, field_name, variables, token)
        outcome.data = _rest_spelling(outcome.data)
        return outcome

    async def create_item(self, token: str | None, **body: Any) -> Outcome:
        if self.kind == "rest":
            return await self._rest("POST", "/schedule-items", token, json=body)
        variables = {"input": _camel_input(body)}
        return await self._gql(CREATE_ITEM, "createScheduleItem", variables, token)

    async def update_item(
        self, token: str | None, item_id: str, occurrence: str | None = None, **body: Any
    ) -> Outcome:
        """The whole item, or with `occurrence` (an original start) that occurrence alone."""
        if self.kind == "rest":
            path = f"/schedule-items/{item_id}"
            params = {"occurrence": occurrence} if occurrence else {}
            return await self._rest("PATCH", path, token, json=body, params=params)
        variables = {"id": item_id, "input": _camel_input(body), "o": occurrence}
        return await self._gql(UPDATE_ITEM, "updateScheduleItem", variables, token)

    async def delete_item(
        self, token: str | None, item_id: str, occurrence: str | None = None
    ) -> Outcome:
        if self.kind == "rest":
            params = {"occurrence": occurrence} if occurrence else {}
            return await self._rest("DELETE", f"/schedule-items/{item_id}", token, params=params)
        variables = {"id": item_id, "o": occurrence}
        return await self._gql(DELETE_ITEM, "deleteScheduleItem", variables, token)

    async def get_item(self, token: str | None, item_id: str) -> Outcome:
        """One visible item (GraphQL answers null, not an error, for an invisible one)."""
        if self.kind == "rest":
            return await self._rest("GET", f"/schedule-items/{item_id}", token)
        return await self._gql(GET_ITEM, "scheduleItem", {"id": item_id}, token)

    async def list_items(
        self, token: str | None, start_at: str | None = None, end_at: str | None = None
    ) -> Outcome:
        if self.kind == "rest":
            params = {k: v for k, v in {"start_at": start_at, "end_at": end_at}.items() if v}
            return await self._rest("GET", "/schedule-items", token, params=params)
        variables = {"s": start_at, "e": end_at}
        return await self._gql(LIST_ITEMS, "scheduleItems", variables, token)

    async def share_item(self, token: str | None, item_id: str, **body: Any) -> Outcome:
        if self.kind == "rest":
            return await self._rest("POST", f"/schedule-items/{item_id}/share", token, json=body)
        variables = {"id": item_id, "input": _camel_input(body)}
        return await self._gql(SHARE_ITEM, "shareScheduleItem", variables, token)

    async def send_request(self, token: str | None, target_user_id: str, **body: Any) -> Outcome:
        if self.kind == "rest":
            payload = {"target_user_id": target_user_id, **body}
            return await self._rest("POST", "/friends/requests", token, json=payload)
        variables = {"input": _camel_input({"target_user_id": target_user_id, **body})}
        return await self._gql(SEND_REQUEST, "sendFriendRequest", variables, token)

    async def answer_request(self, token: str | None, request_id: str, verb: str) -> Outcome:
        """verb: accept | decline | cancel."""
        if self.kind == "rest":
            if verb == "cancel":
                return await self._rest("DELETE", f"/friends/requests/{request_id}", token)
            return await self._rest("POST", f"/friends/requests/{request_id}/{verb}", token)
        query, name = {
            "accept": (ACCEPT_REQUEST, "acceptFriendRequest"),
            "decline": (DECLINE_REQUEST, "declineFriendRequest"),
            "cancel": (CANCEL_REQUEST, "cancelFriendRequest"),
        }[verb]
        return await self._gql(query, name, {"id": request_id}, token)

    async def remove_friend(self, token: str | None, key: str) -> Outcome:
        if self.kind == "rest":
            return await self._rest("DELETE", f"/friends/{key}", token)
        return await self._gql(REMOVE_FRIEND, "removeFriend", {"id": key}, token)

    async def answer_message(
        self, token: str | None, message_id: str, verb: str, **body: Any
    ) -> Outcome:
        """verb: accept | dismiss."""
        if self.kind == "rest":
            path = f"/inbox/messages/{message_id}/{verb}"
            return await self._rest("POST", path, token, json=body or None)
        if verb == "dismiss":
            return await self._gql(
                DISMISS_MESSAGE, "dismissInboxMessage", {"id": message_id}, token
            )
        variables = {"id": message_id, "input": _camel_input(body) if body else None}
        return await self._gql(ACCEPT_MESSAGE, "acceptInboxMessage", variables, token)
