"""The demo organisation: the sales force of an industrial-automation maker and a baby-products store chain.

`build_demo_organisation` assembles the rows without touching a database, and
`load_demo_organisation` inserts them into a database that has no users yet.
Every value comes from one seeded `random.Random`, ids are UUIDv5 of stable
keys and dates count back from `BASE_DATE`, so every build returns the same rows.
"""

import logging
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlmodel import Session, SQLModel, select

from server.models import Contact, CoordSystem, Customer, Member, Region, Role, Store, User, Visit, VisitStatus
from server.security import hash_password
from server.sync.changes import log_bulk_inserted_rows
from server.members.demo import load_member_demo
from server.seed.scoring_demo import load_scoring_demo
from server.seed.names import PersonNames
from server.seed.places import Place, load_places, short_place_name
from server.seed.vocabulary import (
    ALLERGENS,
    DECISION_ROLE_TITLES,
    GENERAL_BUSINESSES,
    INDUSTRY_BUSINESSES,
    STREETS,
    TRADE_NAMES,
    VISIT_SUMMARIES,
)

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "demo1234"
# Names of the two demo businesses, for the command line and README to print.
MAKER_NAME = "华控智能装备"
CHAIN_NAME = "贝贝优品母婴连锁"
_STORE_BRAND = "贝贝优品"

# The day the demo data describes. Visits and members' babies lie before it.
BASE_DATE = date(2026, 11, 30)
_BASE_MOMENT = datetime.combine(BASE_DATE, time(), tzinfo=timezone.utc)
_CHINA_STANDARD_TIME = timezone(timedelta(hours=8))

_RANDOM_SEED = 20261130
_ID_NAMESPACE = uuid.UUID("dccd848e-c818-44d9-beaa-6ba81dfe0b8d")

# Demo accounts have phone numbers 1380000KNNN: K is the kind of account and
# NNN its number. Generated contact and member phones avoid this block.
_ACCOUNT_PHONE_BLOCK = "1380000"
_ADMIN_PHONE_KIND, _LEAD_PHONE_KIND, _REP_PHONE_KIND, _CLERK_PHONE_KIND, _MANAGER_PHONE_KIND = range(5)

# Positions of customers and stores are moved at most this far from the
# centre of their district, so customers of one district do not share a point.
_MAX_JITTER_METRES = 300.0
_METRES_PER_DEGREE_LATITUDE = 111_320.0


@dataclass(frozen=True)
class DemoLogin:
    """A demo account to sign in with, by username or phone, using DEMO_PASSWORD."""

    username: str
    phone: str
    display_name: str
    role: Role


DemoLogins = tuple[DemoLogin, ...]

# One account of each role, printed by the command line so a reader can sign in.
DEMO_LOGINS: DemoLogins = (
    DemoLogin("rep01", "13800002001", "王建国", Role.REP),
    DemoLogin("lead_east", "13800001001", "陈志强", Role.REGIONAL_LEAD),
    DemoLogin("admin", "13800000001", "李明", Role.ADMIN),
    DemoLogin("clerk01", "13800003001", "周丽娟", Role.CLERK),
    DemoLogin("manager01", "13800004001", "吴静", Role.STORE_MANAGER),
)
_SHOWCASE_NAMES = {login.username: login.display_name for login in DEMO_LOGINS}


@dataclass(frozen=True)
class _SalesRegion:
    code: str
    name: str
    lead_username: str
    # Provinces as cpca names them, each with the number of reps it has.
    reps_per_province: tuple[tuple[str, int], ...]


# 37 reps in 23 provinces.
_SALES_REGIONS = (
    _SalesRegion(
        "east",
        "华东大区",
        "lead_east",
        (("上海市", 2), ("江苏省", 4), ("浙江省", 3), ("山东省", 2), ("安徽省", 1), ("福建省", 2), ("江西省", 1)),
    ),
    _SalesRegion("south", "华南大区", "lead_south", (("广东省", 4), ("广西壮族自治区", 1))),
    _SalesRegion("north", "华北大区", "lead_north", (("北京市", 1), ("天津市", 1), ("河北省", 2))),
    _SalesRegion("central", "华中大区", "lead_central", (("河南省", 1), ("湖北省", 2), ("湖南省", 1))),
    _SalesRegion("southwest", "西南大区", "lead_southwest", (("重庆市", 1), ("四川省", 2), ("云南省", 1))),
    _SalesRegion("northwest", "西北大区", "lead_northwest", (("陕西省", 1), ("甘肃省", 1))),
    _SalesRegion("northeast", "东北大区", "lead_northeast", (("辽宁省", 1), ("吉林省", 1), ("黑龙江省", 1))),
)

_MIN_CUSTOMERS_PER_REP, _MAX_CUSTOMERS_PER_REP = 20, 40
_MAX_CONTACTS_PER_CUSTOMER = 4
_MAX_VISITS_PER_CUSTOMER = 5
_VISIT_HISTORY_DAYS = 180

_RETAIL_REGION_CODE = "retail_zhejiang"
_RETAIL_REGION_NAME = "母婴零售浙江区"


@dataclass(frozen=True)
class _StoreSite:
    code: str
    branch: str
    adcode: str
    street: str


_STORE_SITES = (
    _StoreSite("BBYP-HZ01", "西湖文三路店", "330106000000", "文三路"),
    _StoreSite("BBYP-HZ02", "滨江星光店", "330108000000", "江南大道"),
    _StoreSite("BBYP-HZ03", "余杭未来科技城店", "330110000000", "文一西路"),
    _StoreSite("BBYP-NB01", "宁波鄞州店", "330212000000", "四明中路"),
)
_CLERKS_PER_STORE = 2
_MEMBERS_PER_STORE = 150
# Members' babies are born up to 36 months before BASE_DATE.
_OLDEST_BABY_BIRTH_DATE = date(2023, 11, 30)
_ALLERGY_SHARE = 0.15
# GS1 keeps EAN-13 prefixes 20-29 for use inside a company, so member codes
# cannot clash with manufacturers' product barcodes.
_MEMBER_CODE_PREFIX = "29"


@dataclass
class DemoOrganisation:
    """The rows of the demo organisation, one list for each table."""

    regions: list[Region] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)

    def tables(self) -> list[list[SQLModel]]:
        """Return the row lists, each table after the tables its foreign keys refer to."""
        return [self.regions, self.stores, self.users, self.customers, self.contacts, self.visits, self.members]


def build_demo_organisation(password_hash: str = "") -> DemoOrganisation:
    """Assemble the demo organisation. Every user gets `password_hash`, so pass the hash of DEMO_PASSWORD to sign in."""
    return _OrganisationBuilder(password_hash).build()


def load_demo_organisation(session: Session) -> DemoLogins | None:
    """Insert the demo organisation in one transaction if the users table is empty.

    Return DEMO_LOGINS after inserting, or None when users already exist and nothing was inserted.
    Of two loaders racing on an empty database, the later one raises
    IntegrityError on the unique region codes and rolls back.
    """
    if session.exec(select(User.id).limit(1)).first() is not None:
        logger.info("Demo organisation not loaded because the users table already has rows")
        return None

    # Every account shares one hash, because each Argon2 hash takes about 0.1 s
    # (pwdlib's recommended parameters, measured on a 2-core AMD EPYC).
    organisation = build_demo_organisation(password_hash=hash_password(DEMO_PASSWORD))
    try:
        # The models declare no relationship(), so one flush may insert a child
        # table before its parent and fail the foreign key. Flush table by table.
        for rows in organisation.tables():
            session.add_all(rows)
            session.flush()
        # Bulk-inserted rows enter the change log here, so a first sync downloads them.
        log_bulk_inserted_rows(session)
        # Members' purchase history, and members and purchases logged for their stores' tablets.
        load_member_demo(session)
        # Health scores, leads and alerts of the demo (server.seed.scoring_demo).
        load_scoring_demo(session)
        session.commit()
    except Exception:
        session.rollback()
        raise
    logger.info(
        "Demo organisation loaded: %d users, %d customers, %d contacts, %d visits, %d members",
        len(organisation.users),
        len(organisation.customers),
        len(organisation.contacts),
        len(organisation.visits),
        len(organisation.members),
    )
    return DEMO_LOGINS


def ean13_check_digit(first_twelve_digits: str) -> str:
    """Compute the EAN-13 check digit: digits in odd positions weigh 1, in even positions 3."""
    if len(first_twelve_digits) != 12 or not first_twelve_digits.isdigit():
        raise ValueError(f"An EAN-13 check digit needs 12 digits, got {first_twelve_digits!r}")
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first_twelve_digits))
    return str((10 - total % 10) % 10)


def demo_id(kind: str, key: str) -> uuid.UUID:
    """Return the fixed id of the demo row of table `kind` with the stable `key`."""
    return uuid.uuid5(_ID_NAMESPACE, f"{kind}:{key}")


def _account_phone(kind: int, number: int) -> str:
    return f"{_ACCOUNT_PHONE_BLOCK}{kind}{number:03d}"


class _PhoneNumbers:
    """Unique Chinese mobile numbers (11 digits, 13x, 15x or 18x) outside the demo-account block."""

    _PREFIXES = (
        *(f"13{digit}" for digit in range(10)),
        *("150", "151", "152", "153", "155", "156", "157", "158", "159"),
        *(f"18{digit}" for digit in range(10)),
    )

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def next(self) -> str:
        while True:
            number = self._rng.choice(self._PREFIXES) + f"{self._rng.randrange(10**8):08d}"
            if number not in self._used and not number.startswith(_ACCOUNT_PHONE_BLOCK):
                self._used.add(number)
                return number


class _OrganisationBuilder:
    def __init__(self, password_hash: str) -> None:
        self.rng = random.Random(_RANDOM_SEED)
        self.names = PersonNames(self.rng, reserved=tuple(_SHOWCASE_NAMES.values()))
        self.phones = _PhoneNumbers(self.rng)
        self.password_hash = password_hash
        self.places = load_places()
        self.company_names: set[str] = set()
        self.organisation = DemoOrganisation()

    def build(self) -> DemoOrganisation:
        self._add_user("admin", Role.ADMIN, _account_phone(_ADMIN_PHONE_KIND, 1))
        self._add_sales_force()
        self._add_store_chain()
        return self.organisation

    # Users

    def _add_user(
        self,
        username: str,
        role: Role,
        phone: str,
        region: Region | None = None,
        store: Store | None = None,
    ) -> User:
        user = User(
            id=demo_id("user", username),
            username=username,
            phone=phone,
            display_name=_SHOWCASE_NAMES.get(username) or self.names.next(),
            role=role,
            region_id=region.id if region else None,
            store_id=store.id if store else None,
            password_hash=self.password_hash,
            created_at=_BASE_MOMENT - timedelta(days=730),
        )
        self.organisation.users.append(user)
        return user

    def _add_region(self, code: str, name: str) -> Region:
        region = Region(id=demo_id("region", code), code=code, name=name)
        self.organisation.regions.append(region)
        return region

    # The industrial-automation maker

    def _add_sales_force(self) -> None:
        rep_number = 0
        for lead_number, sales_region in enumerate(_SALES_REGIONS, start=1):
            region = self._add_region(sales_region.code, sales_region.name)
            self._add_user(
                sales_region.lead_username, Role.REGIONAL_LEAD, _account_phone(_LEAD_PHONE_KIND, lead_number), region
            )
            for province, rep_count in sales_region.reps_per_province:
                for territory in self._split_province(province, rep_count):
                    rep_number += 1
                    username = f"rep{rep_number:02d}"
                    rep = self._add_user(username, Role.REP, _account_phone(_REP_PHONE_KIND, rep_number), region)
                    self._add_customers(rep, region, territory)

    def _split_province(self, province: str, rep_count: int) -> list[list[Place]]:
        """Divide the province's urban districts and county-level cities into `rep_count` territories.

        Each rep gets whole cities, unless the province has fewer cities than
        reps (a municipality), in which case each rep gets whole districts.
        """
        candidates = [place for place in self.places if place.province == province and _is_urban(place)]
        if not candidates:
            raise ValueError(f"No urban district of {province} found in the cpca data")
        cities: dict[str, list[Place]] = {}
        for place in candidates:
            cities.setdefault(place.city, []).append(place)
        units = list(cities.values()) if len(cities) >= rep_count else [[place] for place in candidates]

        territories: list[list[Place]] = [[] for _ in range(rep_count)]
        for index, unit in enumerate(units):
            territories[index % rep_count].extend(unit)
        return territories

    def _add_customers(self, rep: User, region: Region, territory: list[Place]) -> None:
        rng = self.rng
        # Urban districts hold more factories than county-level cities.
        weights = [2 if place.district.endswith("市") else 3 for place in territory]
        for number in range(1, rng.randint(_MIN_CUSTOMERS_PER_REP, _MAX_CUSTOMERS_PER_REP) + 1):
            key = f"{rep.username}:{number:03d}"
            place = rng.choices(territory, weights=weights)[0]
            industry = rng.choice(tuple(INDUSTRY_BUSINESSES))
            latitude, longitude = _jitter(rng, place.latitude, place.longitude)
            created_at = _BASE_MOMENT - timedelta(days=rng.randint(_VISIT_HISTORY_DAYS + 1, 1500))
            customer = Customer(
                id=demo_id("customer", key),
                name=self._company_name(place, industry),
                industry=industry,
                address=_street_address(rng, place, rng.choice(STREETS)),
                province=place.province,
                city=place.city,
                district=place.district,
                latitude=latitude,
                longitude=longitude,
                coord_system=CoordSystem.GCJ02,
                owner_id=rep.id,
                region_id=region.id,
                created_at=created_at,
                updated_at=created_at,
            )
            self.organisation.customers.append(customer)
            self._add_contacts(customer, key)
            self._add_visits(customer, key, rep)

    def _company_name(self, place: Place, industry: str) -> str:
        """Draw a company name not used before, such as 昆山鼎力精密制造有限公司."""
        rng = self.rng
        # County-level cities are known by their own name, urban districts by their city's.
        prefix = short_place_name(place.district if place.district.endswith("市") else place.city)
        businesses = INDUSTRY_BUSINESSES[industry] + GENERAL_BUSINESSES
        for _ in range(1000):
            name = f"{prefix}{rng.choice(TRADE_NAMES)}{rng.choice(businesses)}有限公司"
            if name not in self.company_names:
                self.company_names.add(name)
                return name
        raise RuntimeError(f"No unused company name for {prefix} after 1000 draws")

    def _add_contacts(self, customer: Customer, key: str) -> None:
        rng = self.rng
        count = rng.randint(1, _MAX_CONTACTS_PER_CUSTOMER)
        for number, decision_role in enumerate(rng.sample(tuple(DECISION_ROLE_TITLES), count), start=1):
            self.organisation.contacts.append(
                Contact(
                    id=demo_id("contact", f"{key}:{number}"),
                    customer_id=customer.id,
                    name=self.names.next(),
                    title=rng.choice(DECISION_ROLE_TITLES[decision_role]),
                    decision_role=decision_role,
                    phone=self.phones.next(),
                )
            )

    def _add_visits(self, customer: Customer, key: str, rep: User) -> None:
        rng = self.rng
        for number in range(1, rng.randint(0, _MAX_VISITS_PER_CUSTOMER) + 1):
            visit_type = rng.choice(tuple(VISIT_SUMMARIES))
            checked_in_at = _working_hours_moment(rng, days_ago=rng.randint(1, _VISIT_HISTORY_DAYS))
            duration = timedelta(minutes=rng.randint(20, 150))
            self.organisation.visits.append(
                Visit(
                    id=demo_id("visit", f"{key}:{number}"),
                    customer_id=customer.id,
                    rep_id=rep.id,
                    visit_type=visit_type,
                    checked_in_at=checked_in_at,
                    checked_out_at=checked_in_at + duration,
                    summary=rng.choice(VISIT_SUMMARIES[visit_type]),
                    # Past visits logged before check-in existed: completed, with no fix or checklist.
                    status=VisitStatus.COMPLETED,
                    duration_s=int(duration.total_seconds()),
                )
            )

    # The baby-products store chain

    def _add_store_chain(self) -> None:
        region = self._add_region(_RETAIL_REGION_CODE, _RETAIL_REGION_NAME)
        places_by_adcode = {place.adcode: place for place in self.places}
        clerk_number = 0
        for store_number, site in enumerate(_STORE_SITES, start=1):
            place = places_by_adcode[site.adcode]
            latitude, longitude = _jitter(self.rng, place.latitude, place.longitude)
            store = Store(
                id=demo_id("store", site.code),
                code=site.code,
                name=f"{_STORE_BRAND}{site.branch}",
                region_id=region.id,
                address=_street_address(self.rng, place, site.street),
                latitude=latitude,
                longitude=longitude,
                coord_system=CoordSystem.GCJ02,
            )
            self.organisation.stores.append(store)

            self._add_user(
                f"manager{store_number:02d}",
                Role.STORE_MANAGER,
                _account_phone(_MANAGER_PHONE_KIND, store_number),
                region,
                store,
            )
            for _ in range(_CLERKS_PER_STORE):
                clerk_number += 1
                self._add_user(
                    f"clerk{clerk_number:02d}",
                    Role.CLERK,
                    _account_phone(_CLERK_PHONE_KIND, clerk_number),
                    region,
                    store,
                )
            self._add_members(store, store_number)

    def _add_members(self, store: Store, store_number: int) -> None:
        rng = self.rng
        member_numbers: set[int] = set()
        birth_date_span = (BASE_DATE - _OLDEST_BABY_BIRTH_DATE).days
        while len(member_numbers) < _MEMBERS_PER_STORE:
            number = rng.randrange(10**8)
            if number in member_numbers:
                continue
            member_numbers.add(number)

            first_twelve = f"{_MEMBER_CODE_PREFIX}{store_number:02d}{number:08d}"
            member_code = first_twelve + ean13_check_digit(first_twelve)
            baby_age_days = rng.randint(0, birth_date_span)
            # Parents join during pregnancy at the earliest, and within the last two years.
            joined_days_ago = rng.randint(0, min(730, baby_age_days + 200))
            self.organisation.members.append(
                Member(
                    id=demo_id("member", member_code),
                    store_id=store.id,
                    member_code=member_code,
                    name=self.names.next(),
                    phone=self.phones.next(),
                    baby_birth_date=BASE_DATE - timedelta(days=baby_age_days),
                    allergens=self._allergens(),
                    created_at=_BASE_MOMENT - timedelta(days=joined_days_ago),
                )
            )

    def _allergens(self) -> str:
        rng = self.rng
        if rng.random() >= _ALLERGY_SHARE:
            return ""
        count = 2 if rng.random() < 0.2 else 1
        return "、".join(rng.sample(ALLERGENS, count))


def _is_urban(place: Place) -> bool:
    """Tell whether a place is an urban district or a county-level city, where the maker's customers are."""
    if place.district:
        return place.district.endswith(("区", "市"))
    return place.city.endswith("市")


def _jitter(rng: random.Random, latitude: float, longitude: float) -> tuple[float, float]:
    """Move a position to a uniformly random point at most _MAX_JITTER_METRES away."""
    distance = _MAX_JITTER_METRES * math.sqrt(rng.random())
    bearing = rng.uniform(0.0, 2.0 * math.pi)
    north = distance * math.cos(bearing) / _METRES_PER_DEGREE_LATITUDE
    east = distance * math.sin(bearing) / (_METRES_PER_DEGREE_LATITUDE * math.cos(math.radians(latitude)))
    return round(latitude + north, 6), round(longitude + east, 6)


def _street_address(rng: random.Random, place: Place, street: str) -> str:
    """Build an address such as 广东省深圳市南山区科技路88号. A municipality is named once."""
    city = "" if place.city == place.province else place.city
    return f"{place.province}{city}{place.district}{street}{rng.randint(1, 999)}号"


def _working_hours_moment(rng: random.Random, days_ago: int) -> datetime:
    """Pick a UTC moment between 09:00 and 17:00 China Standard Time on a weekday `days_ago` days before BASE_DATE."""
    day = BASE_DATE - timedelta(days=days_ago)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    local = datetime.combine(day, time(rng.randint(9, 16), rng.randint(0, 59)), tzinfo=_CHINA_STANDARD_TIME)
    return local.astimezone(timezone.utc)
