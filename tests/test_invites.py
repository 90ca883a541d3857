"""docs/contract.md §3 Auth (invite codes) and §4 (`Me.inviteCode`, `createInviteCode`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models import Invitation, InviteCode, PendingSignup, User
from resolvers.account_inputs import INVITE_ALPHABET
from tests.support.client import Account, Api
from tests.support.mail import MailSink
from tests.support.transports import Transport

MY_CODE = "query { me { inviteCode } }"
CREATE = """mutation($maxUses: Int, $expiresAt: DateTime) {
  createInviteCode(maxUses: $maxUses, expiresAt: $expiresAt) {
    code maxUses uses expiresAt disabled
  }
}"""


@pytest.fixture
async def inviter(api: Api) -> Account:
    return await api.sign_up("inviter", "inviter@example.com")


async def personal_code(api: Api, account: Account) -> str:
    body = await api.gql(MY_CODE, token=account.access_token)
    assert "errors" not in body, body
    code: str = body["data"]["me"]["inviteCode"]
    return code


async def create_code(api: Api, account: Account, **variables: Any) -> dict[str, Any]:
    body = await api.gql(CREATE, variables, account.access_token)
    assert "errors" not in body, body
    created: dict[str, Any] = body["data"]["createInviteCode"]
    return created


async def request(t: Transport, username: str, invite_code: str | None) -> None:
    body: dict[str, Any] = {
        "username": username,
        "email": f"{username}@example.com",
        "password": "secret",
    }
    if invite_code is not None:
        body["invite_code"] = invite_code
    (await t.request_signup(**body)).expect_ok()


async def confirm(t: Transport, mail: MailSink, username: str) -> User:
    email = f"{username}@example.com"
    code = await mail.code_for(email)
    (await t.verify_signup(email, code)).expect_ok()
    return await User.get(email_key=email)


def well_formed(code: str) -> bool:
    return len(code) == 8 and all(c in INVITE_ALPHABET for c in code)


async def test_personal_code_is_well_formed_and_stable(api: Api, inviter: Account) -> None:
    code = await personal_code(api, inviter)
    assert well_formed(code)
    assert await personal_code(api, inviter) == code
    row = await InviteCode.get(code=code)
    assert row.personal and row.max_uses is None and str(row.owner_id) == inviter.id


async def test_invite_is_redeemed_once_on_confirmation_not_on_request(
    t: Transport, api: Api, mail: MailSink, inviter: Account
) -> None:
    code = await personal_code(api, inviter)
    await request(t, "invitee", code)
    row = await InviteCode.get(code=code)
    assert row.uses == 0
    assert await Invitation.all().count() == 0
    invitee = await confirm(t, mail, "invitee")
    row = await InviteCode.get(code=code)
    assert row.uses == 1
    [invitation] = await Invitation.all()
    assert invitation.invitee_id == invitee.id
    assert str(invitation.inviter_id) == inviter.id
    assert invitation.code_id == row.id


async def test_personal_code_has_unlimited_uses_and_any_case(
    t: Transport, api: Api, mail: MailSink, inviter: Account
) -> None:
    code = await personal_code(api, inviter)
    for name, given in (("first", code), ("second", code.lower()), ("third", code.title())):
        await request(t, name, given)
        await confirm(t, mail, name)
    assert (await InviteCode.get(code=code)).uses == 3
    assert await Invitation.filter(inviter_id=inviter.id).count() == 3


async def test_created_code_is_single_use_by_default(
    t: Transport, api: Api, mail: MailSink, inviter: Account
) -> None:
    created = await create_code(api, inviter)
    assert well_formed(created["code"])
    assert created["maxUses"] == 1 and created["uses"] == 0
    assert created["disabled"] is False and created["expiresAt"] is None
    await request(t, "first", created["code"])
    await request(t, "second", created["code"])
    await confirm(t, mail, "first")
    second = await confirm(t, mail, "second")  # an exhausted code does not block sign-up
    assert (await InviteCode.get(code=created["code"])).uses == 1
    assert await Invitation.all().count() == 1
    assert not await Invitation.filter(invitee_id=second.id).exists()


async def test_created_code_with_max_uses(
    t: Transport, api: Api, mail: MailSink, inviter: Account
) -> None:
    created = await create_code(api, inviter, maxUses=2)
    assert created["maxUses"] == 2
    for name in ("first", "second", "third"):
        await request(t, name, created["code"])
        await confirm(t, mail, name)
    assert (await InviteCode.get(code=created["code"])).uses == 2
    assert await Invitation.all().count() == 2


async def test_create_invite_code_needs_authentication(api: Api) -> None:
    body = await api.gql(CREATE, {})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await InviteCode.all().count() == 0


async def test_create_invite_code_rejects_bad_max_uses(api: Api, inviter: Account) -> None:
    before = await InviteCode.all().count()
    for max_uses in (0, -1):
        body = await api.gql(CREATE, {"maxUses": max_uses}, inviter.access_token)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await InviteCode.all().count() == before


async def _unusable(api: Api, inviter: Account, kind: str) -> str:
    if kind == "unknown":
        return "ABCDEFGH"
    created = await create_code(api, inviter, maxUses=5)
    code: str = created["code"]
    if kind == "disabled":
        await InviteCode.filter(code=code).update(disabled=True)
    elif kind == "expired":
        await InviteCode.filter(code=code).update(expires_at=datetime.now(UTC) - timedelta(1))
    elif kind == "exhausted":
        await InviteCode.filter(code=code).update(uses=5)
    return code


async def test_unusable_code_is_ignored_and_signup_succeeds(
    t: Transport, api: Api, mail: MailSink, inviter: Account
) -> None:
    for kind in ("unknown", "disabled", "expired", "exhausted"):
        code = await _unusable(api, inviter, kind)
        uses_before = await InviteCode.filter(code=code).values_list("uses", flat=True)
        await request(t, kind, code)
        invitee = await confirm(t, mail, kind)
        assert invitee.email_confirmed_at is not None, kind
        assert await Invitation.all().count() == 0, kind
        assert await InviteCode.filter(code=code).values_list("uses", flat=True) == uses_before


async def test_code_with_future_expiry_is_usable(
    t: Transport, api: Api, mail: MailSink, inviter: Account
) -> None:
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = await create_code(api, inviter, expiresAt=expires)
    assert created["expiresAt"] is not None
    await request(t, "invitee", created["code"])
    await confirm(t, mail, "invitee")
    assert await Invitation.all().count() == 1


async def test_code_disabled_between_request_and_confirmation_is_ignored(
    t: Transport, api: Api, mail: MailSink, inviter: Account
) -> None:
    """Validity is judged on confirmation, when the code is redeemed."""
    code = await personal_code(api, inviter)
    await request(t, "invitee", code)
    await InviteCode.filter(code=code).update(disabled=True)
    await confirm(t, mail, "invitee")
    assert await Invitation.all().count() == 0
    assert (await InviteCode.get(code=code)).uses == 0


MALFORMED_CODES = [
    "ABCD1234",  # 1 is not in the alphabet
    "ABCDEFG0",  # nor 0
    "ABCDEFGI",  # nor I
    "ABCDEFGL",  # nor L
    "ABCDEFGO",  # nor O
    "short",
    "ABCDEFGHJ",  # 9 characters
    "ABCD EFG",
    "",
]


async def test_invite_code_shape(t: Transport) -> None:
    for code in MALFORMED_CODES:
        outcome = await t.request_signup(
            username="invitee", email="invitee@example.com", password="secret", invite_code=code
        )
        outcome.expect("BAD_USER_INPUT")
    assert not await PendingSignup.exists()
    # Every character of the alphabet is accepted, in either case.
    for i, start in enumerate(range(0, len(INVITE_ALPHABET), 8)):
        code = (INVITE_ALPHABET[start:] + INVITE_ALPHABET)[:8]
        outcome = await t.request_signup(
            username=f"user{i}",
            email=f"user{i}@example.com",
            password="secret",
            invite_code=code if i % 2 else code.lower(),
        )
        outcome.expect_ok()


async def test_every_letter_of_the_alphabet_is_accepted(t: Transport) -> None:
    for i, start in enumerate(range(0, len(INVITE_ALPHABET), 8)):
        code = (INVITE_ALPHABET[start:] + INVITE_ALPHABET)[:8]
        outcome = await t.request_signup(
            username=f"user{i}", email=f"user{i}@example.com", password="secret", invite_code=code
        )
        outcome.expect_ok()
