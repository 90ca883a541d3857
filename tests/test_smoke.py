from tests.support.client import Api


async def test_health(api: Api) -> None:
    r = await api.rest("GET", "/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_signup_flow(api: Api) -> None:
    account = await api.sign_up()
    r = await api.rest("GET", "/users/me", account.access_token)
    assert r.status_code == 200, r.text
    assert r.json()["username"] == account.username
