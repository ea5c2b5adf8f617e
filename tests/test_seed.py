"""The demo organisation: determinism, shape of both businesses, data validity, and loading into SQLite."""

import math
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timezone

import pytest
from sqlmodel import Session, func, select

from server.cli import migrate
from server.db import build_engine
from server.models import Contact, CoordSystem, Customer, Member, Region, Role, Store, User, Visit
from server.security import verify_password
from server.seed import DEMO_LOGINS, DEMO_PASSWORD, DemoOrganisation, build_demo_organisation, load_demo_organisation
from server.seed.demo import BASE_DATE
from server.seed.places import load_places

SALES_REGION_COUNT = 7
MOBILE_PHONE = re.compile(r"1[358]\d{9}")
# Bounding box of China, generous enough for every district centre in cpca.
CHINA_LATITUDES = (18.0, 54.0)
CHINA_LONGITUDES = (73.0, 135.5)
MAX_JITTER_METRES = 300.0


@pytest.fixture(scope="module")
def organisation() -> DemoOrganisation:
    return build_demo_organisation()


@pytest.fixture(scope="module")
def loaded_engine(tmp_path_factory):
    engine = build_engine(f"sqlite:///{tmp_path_factory.mktemp('seed') / 't.sqlite3'}")
    migrate(engine)
    with Session(engine) as session:
        logins = load_demo_organisation(session)
    assert logins == DEMO_LOGINS
    yield engine
    engine.dispose()


def users_by_role(organisation: DemoOrganisation, role: Role) -> list[User]:
    return [user for user in organisation.users if user.role == role]


def ean13_is_valid(code: str) -> bool:
    digits = [int(character) for character in code]
    weighted = sum(digit * (3 if index % 2 else 1) for index, digit in enumerate(digits[:12]))
    return (weighted + digits[12]) % 10 == 0


def distance_metres(latitude_a: float, longitude_a: float, latitude_b: float, longitude_b: float) -> float:
    """Haversine distance on a sphere of the Earth's mean radius."""
    phi_a, phi_b = math.radians(latitude_a), math.radians(latitude_b)
    d_phi = phi_b - phi_a
    d_lambda = math.radians(longitude_b - longitude_a)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def test_build_is_deterministic(organisation):
    again = build_demo_organisation()

    for rows, rows_again in zip(organisation.tables(), again.tables(), strict=True):
        assert [row.id for row in rows] == [row.id for row in rows_again]
        assert [row.model_dump() for row in rows] == [row.model_dump() for row in rows_again]
    assert [customer.name for customer in organisation.customers] == [customer.name for customer in again.customers]
    assert [user.display_name for user in organisation.users] == [user.display_name for user in again.users]


def test_ids_are_unique(organisation):
    ids = [row.id for rows in organisation.tables() for row in rows]

    assert len(ids) == len(set(ids))


def test_sales_force_shape(organisation):
    reps = users_by_role(organisation, Role.REP)
    leads = users_by_role(organisation, Role.REGIONAL_LEAD)
    admins = users_by_role(organisation, Role.ADMIN)
    customers_by_owner = defaultdict(list)
    for customer in organisation.customers:
        customers_by_owner[customer.owner_id].append(customer)

    assert len(reps) == 37
    assert len(admins) == 1
    assert [rep.username for rep in reps] == [f"rep{number:02d}" for number in range(1, 38)]

    rep_provinces = []
    for rep in reps:
        customers = customers_by_owner[rep.id]
        assert 20 <= len(customers) <= 40, rep.username
        provinces = {customer.province for customer in customers}
        assert len(provinces) == 1, f"{rep.username} has customers in {provinces}"
        rep_provinces.append(provinces.pop())
    assert len(set(rep_provinces)) == 23

    sales_region_ids = {rep.region_id for rep in reps}
    assert len(sales_region_ids) == SALES_REGION_COUNT
    assert Counter(lead.region_id for lead in leads) == Counter({region_id: 1 for region_id in sales_region_ids})
    assert 900 <= len(organisation.customers) <= 1300


def test_customers_belong_to_their_reps(organisation):
    users = {user.id: user for user in organisation.users}
    names = [customer.name for customer in organisation.customers]

    assert len(names) == len(set(names))
    for customer in organisation.customers:
        owner = users[customer.owner_id]
        assert owner.role == Role.REP
        assert customer.region_id == owner.region_id
        assert customer.name.endswith("有限公司")
        assert customer.industry
        assert customer.address.startswith(customer.province)
        assert customer.district in customer.address


def test_contacts_and_visits(organisation):
    customers = {customer.id: customer for customer in organisation.customers}
    contacts_per_customer = Counter(contact.customer_id for contact in organisation.contacts)
    visits_per_customer = Counter(visit.customer_id for visit in organisation.visits)
    base_moment = datetime(BASE_DATE.year, BASE_DATE.month, BASE_DATE.day, tzinfo=timezone.utc)

    assert set(contacts_per_customer) == set(customers)
    assert all(1 <= count <= 4 for count in contacts_per_customer.values())
    assert all(count <= 5 for count in visits_per_customer.values())
    for contact in organisation.contacts:
        assert contact.decision_role in {"technical", "purchasing", "finance", "other"}
        assert contact.title
    for visit in organisation.visits:
        assert visit.rep_id == customers[visit.customer_id].owner_id
        assert visit.checked_in_at < visit.checked_out_at < base_moment
        assert visit.checked_in_at > customers[visit.customer_id].created_at
        assert visit.summary


def test_store_chain_shape(organisation):
    sales_region_ids = {rep.region_id for rep in users_by_role(organisation, Role.REP)}
    store_ids = [store.id for store in organisation.stores]
    clerks = users_by_role(organisation, Role.CLERK)
    managers = users_by_role(organisation, Role.STORE_MANAGER)

    assert len(organisation.stores) == 4
    assert len({store.region_id for store in organisation.stores}) == 1
    assert organisation.stores[0].region_id not in sales_region_ids
    assert len(organisation.regions) == SALES_REGION_COUNT + 1
    assert Counter(clerk.store_id for clerk in clerks) == Counter({store_id: 2 for store_id in store_ids})
    assert Counter(manager.store_id for manager in managers) == Counter({store_id: 1 for store_id in store_ids})
    assert {user.region_id for user in clerks + managers} == {organisation.stores[0].region_id}
    assert Counter(member.store_id for member in organisation.members) == Counter(
        {store_id: 150 for store_id in store_ids}
    )


def test_members_are_valid(organisation):
    codes = [member.member_code for member in organisation.members]
    oldest_birth_date = date(BASE_DATE.year - 3, BASE_DATE.month, BASE_DATE.day)

    assert len(codes) == len(set(codes))
    for code in codes:
        assert re.fullmatch(r"\d{13}", code), code
        assert ean13_is_valid(code), code
    for member in organisation.members:
        assert oldest_birth_date <= member.baby_birth_date <= BASE_DATE
    with_allergens = [member for member in organisation.members if member.allergens]
    assert 0 < len(with_allergens) < len(organisation.members) / 3


def test_positions_are_gcj02_in_china(organisation):
    places = {(place.province, place.city, place.district): place for place in load_places()}
    positioned = [*organisation.customers, *organisation.stores]

    for row in positioned:
        assert row.coord_system == CoordSystem.GCJ02
        assert CHINA_LATITUDES[0] < row.latitude < CHINA_LATITUDES[1], row.name
        assert CHINA_LONGITUDES[0] < row.longitude < CHINA_LONGITUDES[1], row.name
    for customer in organisation.customers:
        place = places[(customer.province, customer.city, customer.district)]
        distance = distance_metres(place.latitude, place.longitude, customer.latitude, customer.longitude)
        assert distance <= MAX_JITTER_METRES + 1, customer.name
    positions = {(customer.latitude, customer.longitude) for customer in organisation.customers}
    assert len(positions) == len(organisation.customers)


def test_phones_and_personal_names_unique(organisation):
    phones = [
        *(user.phone for user in organisation.users),
        *(contact.phone for contact in organisation.contacts),
        *(member.phone for member in organisation.members),
    ]
    personal_names = [
        *(user.display_name for user in organisation.users),
        *(contact.name for contact in organisation.contacts),
        *(member.name for member in organisation.members),
    ]

    for phone in phones:
        assert MOBILE_PHONE.fullmatch(phone), phone
    assert len(phones) == len(set(phones))
    assert len(personal_names) == len(set(personal_names))
    assert len({user.username for user in organisation.users}) == len(organisation.users)


def test_strings_encode_in_gb2312(organisation):
    for rows in organisation.tables():
        for row in rows:
            for field, value in row.model_dump().items():
                if isinstance(value, str):
                    try:
                        value.encode("gb2312")
                    except UnicodeEncodeError:
                        pytest.fail(f"{type(row).__name__}.{field} = {value!r} is not encodable in GB2312")


def test_demo_logins_match_users(organisation):
    users = {user.username: user for user in organisation.users}

    assert sorted(login.role for login in DEMO_LOGINS) == sorted(Role)
    for login in DEMO_LOGINS:
        user = users[login.username]
        assert user.phone == login.phone
        assert user.display_name == login.display_name
        assert user.role == login.role


def test_load_inserts_once(loaded_engine, organisation):
    expected = {
        Region: len(organisation.regions),
        Store: len(organisation.stores),
        User: len(organisation.users),
        Customer: len(organisation.customers),
        Contact: len(organisation.contacts),
        Visit: len(organisation.visits),
        Member: len(organisation.members),
    }

    with Session(loaded_engine) as session:
        assert load_demo_organisation(session) is None
    with Session(loaded_engine) as session:
        for model, count in expected.items():
            assert session.exec(select(func.count()).select_from(model)).one() == count, model.__name__


def test_demo_login_verifies(loaded_engine):
    with Session(loaded_engine) as session:
        hashes = set(session.exec(select(User.password_hash)).all())
        for login in DEMO_LOGINS:
            user = session.exec(select(User).where(User.phone == login.phone)).one()
            assert user.username == login.username
            assert verify_password(DEMO_PASSWORD, user.password_hash)
        assert not verify_password("wrong-password", user.password_hash)

    assert len(hashes) == 1
