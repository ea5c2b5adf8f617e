"""Role scoping: each role reads only its own rows, over HTTP against a real server."""

import httpx
from sqlmodel import Session, func, select

from server.models import Contact, Customer, Member, Role, User
from tests.conftest import login
from tests.servers import ApiServer


# Other tests on the same server add customers without contacts and tombstone some, so the
# checks below count live customers only and pick demo customers (with contacts) by id.
_LIVE = Customer.deleted == False  # noqa: E712


def _demo_customer(session: Session, owner: User) -> Customer:
    """Return a live customer of `owner` that has contacts, as every demo customer does."""
    return session.exec(
        select(Customer).join(Contact, Contact.customer_id == Customer.id).where(Customer.owner_id == owner.id, _LIVE).order_by(Customer.id)
    ).first()


def _users(server: ApiServer, role: Role) -> list[User]:
    with Session(server.engine) as session:
        return list(session.exec(select(User).where(User.role == role).order_by(User.username)).all())


def _all_pages(http: httpx.Client, path: str, headers: dict[str, str]) -> list[dict]:
    items, offset = [], 0
    while True:
        page = http.get(path, params={"limit": 500, "offset": offset}, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        offset += body["limit"]
        if offset >= body["total"]:
            return items


def test_rep_sees_only_own_customers(client: httpx.Client, api_server: ApiServer):
    rep = _users(api_server, Role.REP)[0]
    with Session(api_server.engine) as session:
        owned = session.exec(select(func.count()).select_from(Customer).where(Customer.owner_id == rep.id, _LIVE)).one()

    customers = _all_pages(client, "/api/customers", login(client, rep.username))

    assert owned > 0
    assert len(customers) == owned
    assert {c["owner_id"] for c in customers} == {str(rep.id)}


def test_rep_gets_404_for_other_reps_customer(client: httpx.Client, api_server: ApiServer):
    rep, other_rep = _users(api_server, Role.REP)[:2]
    with Session(api_server.engine) as session:
        foreign = _demo_customer(session, other_rep)
        own = _demo_customer(session, rep)
    headers = login(client, rep.username)

    response = client.get(f"/api/customers/{foreign.id}", headers=headers)

    assert response.status_code == 404
    assert foreign.name not in response.text
    assert foreign.address not in response.text
    assert client.get(f"/api/customers/{own.id}", headers=headers).status_code == 200


def test_rep_search_stays_in_scope(client: httpx.Client, api_server: ApiServer):
    rep, other_rep = _users(api_server, Role.REP)[:2]
    with Session(api_server.engine) as session:
        foreign = session.exec(select(Customer).where(Customer.owner_id == other_rep.id)).first()

    response = client.get("/api/customers", params={"q": foreign.name}, headers=login(client, rep.username))

    assert response.status_code == 200
    assert response.json()["total"] == 0


def test_customer_detail_has_contacts(client: httpx.Client, api_server: ApiServer):
    rep = _users(api_server, Role.REP)[0]
    with Session(api_server.engine) as session:
        own = _demo_customer(session, rep)

    detail = client.get(f"/api/customers/{own.id}", headers=login(client, rep.username)).json()

    assert detail["name"] == own.name
    assert detail["owner_name"] == rep.display_name
    assert detail["coord_system"] == own.coord_system
    assert len(detail["contacts"]) >= 1


def test_lead_sees_only_own_region(client: httpx.Client, api_server: ApiServer):
    lead = _users(api_server, Role.REGIONAL_LEAD)[0]
    with Session(api_server.engine) as session:
        in_region = session.exec(select(func.count()).select_from(Customer).where(Customer.region_id == lead.region_id, _LIVE)).one()
        outside = session.exec(select(Customer).where(Customer.region_id != lead.region_id)).first()
    headers = login(client, lead.username)

    customers = _all_pages(client, "/api/customers", headers)

    assert in_region > 0
    assert len(customers) == in_region
    assert {c["region_id"] for c in customers} == {str(lead.region_id)}
    assert client.get(f"/api/customers/{outside.id}", headers=headers).status_code == 404


def test_admin_sees_everything(client: httpx.Client, api_server: ApiServer):
    admin = _users(api_server, Role.ADMIN)[0]
    with Session(api_server.engine) as session:
        total = session.exec(select(func.count()).select_from(Customer).where(_LIVE)).one()

    response = client.get("/api/customers", params={"limit": 1}, headers=login(client, admin.username))

    assert response.json()["total"] == total


def test_clerk_sees_own_store_members_only(client: httpx.Client, api_server: ApiServer):
    clerk = _users(api_server, Role.CLERK)[0]
    with Session(api_server.engine) as session:
        in_store = session.exec(select(func.count()).select_from(Member).where(Member.store_id == clerk.store_id)).one()
    headers = login(client, clerk.username)

    members = _all_pages(client, "/api/members", headers)

    assert in_store > 0
    assert len(members) == in_store
    assert {m["store_id"] for m in members} == {str(clerk.store_id)}
    assert client.get("/api/customers", headers=headers).json()["total"] == 0


def test_member_phone_masked(client: httpx.Client, api_server: ApiServer):
    manager = _users(api_server, Role.STORE_MANAGER)[0]
    with Session(api_server.engine) as session:
        member = session.exec(select(Member).where(Member.store_id == manager.store_id).order_by(Member.name)).first()

    response = client.get("/api/members", params={"q": member.member_code}, headers=login(client, manager.username))

    item = response.json()["items"][0]
    assert item["phone_masked"] == member.phone[:3] + "****" + member.phone[-4:]
    assert member.phone not in response.text


def test_rep_has_no_member_access(client: httpx.Client, api_server: ApiServer):
    rep = _users(api_server, Role.REP)[0]

    response = client.get("/api/members", headers=login(client, rep.username))

    assert response.status_code == 403
    assert "rep" in response.json()["detail"]
