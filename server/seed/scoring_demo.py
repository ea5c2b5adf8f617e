"""Demo data of the health score, leads and alerts, loaded with the demo organisation.

Adds annual purchase bands, follow-ups and customer events (website downloads, proposals,
meetings, requirement confirmations, competitor sheets, objections) to the demo maker's
customers. Also stores a health model that scores the maker's industries, the default lead
rules, historical and open leads, the default content packs, and two disabled robot
channels whose webhook URLs are fake. Then it scores every customer and raises the alerts.

Every value comes from one seeded random generator. Times count back from the moment of
loading, unlike the organisation's, which count back from BASE_DATE, because the
indicators' windows end at the present: a demo loaded today shows today's red, yellow and green.
"""

import logging
import random
from collections import Counter
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import distinct, func, insert
from sqlmodel import Session, select

from server.alerts.checks import as_uuid, raise_score_alerts
from server.alerts.models import AlertChannel
from server.content.service import store_default_packs
from server.leads.config import default_rules, save_rules
from server.leads.models import Lead, LeadStatus
from server.models import Contact, Customer, Followup, Region, Role, User
from server.scoring.config import DECISION_CHAIN_ROLES, DEFAULT_WEIGHTS, HealthModelConfig
from server.scoring.engine import compute_batch
from server.scoring.health_models import load_active_model, save_model
from server.scoring.models import CustomerEvent, EventKind
from server.scoring.rules import GREEN
from server.scoring.writer import write_batch
from server.seed.vocabulary import TRADE_NAMES
from server.sync.changes import ChangeRecorder

log = logging.getLogger(__name__)

_RANDOM_SEED = 20261204

# Fit (0..1) of each of the demo maker's industries to its automation products.
INDUSTRY_FIT = {
    "汽车零部件": 1.0, "3C电子": 0.9, "锂电": 0.9, "光伏": 0.85, "家电": 0.8, "工程机械": 0.75,
    "食品包装": 0.7, "医药": 0.7, "物流仓储": 0.65, "五金制品": 0.55, "塑料制品": 0.5, "纺织": 0.4,
}
PURCHASE_BANDS = (("under_500k", 30), ("500k_2m", 35), ("2m_10m", 20), ("over_10m", 5), (None, 10))

FOLLOWUP_TEXTS = (
    "电话沟通二期产线改造进度，客户下周内部评审。",
    "微信发送伺服选型资料，技术总监已查看。",
    "跟进报价，采购希望年底前确定供应商。",
    "约好下周三上门演示视觉检测方案。",
    "客户反馈试用样机运行稳定，准备走采购流程。",
    "财务询问分期付款方案，已发送说明。",
)

# Shares of the engagement profiles among customers that named two or more of the decision
# chain's roles, and among the others: a customer who names its buyers also engages more.
_PROFILES = {
    True: (("engaged", 0.55), ("lukewarm", 0.35), ("dormant", 0.10)),
    False: (("engaged", 0.25), ("lukewarm", 0.55), ("dormant", 0.20)),
}
# Activity level (0..1) of each profile.
_ACTIVITY = {"engaged": 1.0, "lukewarm": 0.75, "dormant": 0.1}

_CONTACT_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
# Days between the demo's earlier score snapshot and today's.
_TREND_DAYS = 7


def load_scoring_demo(session: Session, now: datetime | None = None) -> None:
    """Add the scoring, lead and alert demo data to a freshly loaded demo organisation, in the caller's transaction."""
    now = now or datetime.now(timezone.utc)
    rng = random.Random(_RANDOM_SEED)
    recorder = ChangeRecorder(session)

    store_default_packs(session)
    config = HealthModelConfig(weights=dict(DEFAULT_WEIGHTS), parameters={"industry_fit": {"by_industry": INDUSTRY_FIT, "default": 0.5}})
    save_model(session, config, name="华控智能装备 2026版", activate=True, note="demo model: the maker's industries scored by fit")
    save_rules(session, default_rules(), note="demo: the default rules", created_by=None)

    customers = session.exec(select(Customer).where(Customer.industry != "").order_by(Customer.id)).all()
    roles = _roles_named(session)
    event_rows = []
    followups = 0
    for customer in customers:
        profile = _weighted(rng, _PROFILES[roles.get(customer.id, 0) >= 2])
        customer.purchase_band = _weighted(rng, PURCHASE_BANDS)
        session.add(customer)
        recorder.put("customers", customer, changed_fields={"purchase_band"})
        event_rows.extend(_events(rng, customer.id, profile, now))
        followups += _followups(session, recorder, rng, customer, profile, now)
    session.flush()
    if event_rows:
        session.execute(insert(CustomerEvent), event_rows)

    leads = _leads(session, rng, now)
    channels = _channels(session)
    recorder.flush()

    model = load_active_model(session)
    # Scores as of a week ago first, so today's snapshots show a trend against them.
    week_ago = compute_batch(session, model, now - timedelta(days=_TREND_DAYS))
    write_batch(session, week_ago, 0, len(week_ago))
    batch = compute_batch(session, model, now)
    if _showcase_green_customers(session, recorder, batch, now):
        recorder.flush()
        batch = compute_batch(session, model, now)
    write_batch(session, batch, 0, len(batch))
    raised = raise_score_alerts(session, batch, now, commit=False)
    log.info(
        "scoring demo loaded: %d customers scored (%s), %d events, %d follow-ups, %d leads, %d robot channels, %d alerts",
        len(batch), dict(Counter(batch.bands.tolist())), len(event_rows), followups, leads, channels, raised,
    )


def _showcase_green_customers(session: Session, recorder: ChangeRecorder, batch, now: datetime) -> int:
    """Make the best customer of every rep without a green one green, so each rep's battle map shows all three bands.

    The customer gets the missing decision-chain contacts, the top purchase band and a month of
    full engagement (downloads, an opened proposal, an attended meeting, a confirmed requirement,
    a sheet on time). Every event-based indicator is then 1 and the score at least 90 (industry
    fit is the only indicator left below 1, at 10% weight). Returns how many customers changed.
    """
    best: dict = {}
    has_green: set = set()
    for position, owner_id in enumerate(batch.facts.owner_ids):
        if owner_id is None:
            continue
        if batch.bands[position] == GREEN:
            has_green.add(owner_id)
        if owner_id not in best or batch.scores[position] > batch.scores[best[owner_id]]:
            best[owner_id] = position
    positions = [position for owner_id, position in best.items() if owner_id not in has_green]
    if not positions:
        return 0

    roles = _roles_of(session, [as_uuid(batch.facts.customer_ids[position]) for position in positions])
    event_rows = []
    for number, position in enumerate(positions):
        customer = session.get(Customer, as_uuid(batch.facts.customer_ids[position]))
        customer.purchase_band = "over_10m"
        session.add(customer)
        recorder.put("customers", customer, changed_fields={"purchase_band"})
        for role in DECISION_CHAIN_ROLES:
            if role in roles.get(customer.id, set()):
                continue
            contact = Contact(customer_id=customer.id, name=f"{_CONTACT_SURNAMES[number % len(_CONTACT_SURNAMES)]}经理",
                              title=_SHOWCASE_TITLES[role], decision_role=role)
            session.add(contact)
            recorder.put("contacts", contact, changed_fields={"customer_id", "name", "title", "decision_role"})
        event_rows.extend(_showcase_events(customer.id, now))
    session.flush()
    session.execute(insert(CustomerEvent), event_rows)
    log.info("demo: %d reps had no green customer; their best customer was made green", len(positions))
    return len(positions)


_SHOWCASE_TITLES = {"technical": "技术总监", "purchasing": "采购经理", "finance": "财务经理"}


def _showcase_events(customer_id: uuid.UUID, now: datetime) -> list[dict]:
    def row(kind: EventKind, days_ago: float, **extra) -> dict:
        return {
            "id": uuid.uuid4(), "customer_id": customer_id, "kind": kind.value, "occurred_at": now - timedelta(days=days_ago),
            "ref": extra.get("ref"), "due_at": extra.get("due_at"), "value": extra.get("value"), "payload": {},
            "source": "demo", "external_id": None, "recorded_by": None, "recorded_at": now,
        }

    return [
        *(row(EventKind.DOCUMENT_DOWNLOAD, hours / 24) for hours in (1, 2, 3, 4)),
        row(EventKind.PROPOSAL_SENT, 6, ref="PS"),
        row(EventKind.PROPOSAL_OPEN, 5, ref="PS"),
        row(EventKind.MEETING_INVITED, 9, ref="MS"),
        row(EventKind.MEETING_ATTENDED, 8, ref="MS"),
        row(EventKind.REQUIREMENT_CONFIRMED, 4, value=1.0),
        row(EventKind.COMPETITOR_SHEET_SUBMITTED, 10, due_at=now - timedelta(days=9)),
    ]


def _roles_of(session: Session, customer_ids: list) -> dict:
    rows = session.execute(
        select(Contact.customer_id, Contact.decision_role).where(Contact.customer_id.in_(customer_ids), Contact.deleted == False)  # noqa: E712
    ).all()
    roles: dict = {}
    for customer_id, role in rows:
        roles.setdefault(customer_id, set()).add(role)
    return roles


def _roles_named(session: Session) -> dict:
    rows = session.execute(
        select(Contact.customer_id, func.count(distinct(Contact.decision_role)))
        .where(Contact.decision_role.in_(DECISION_CHAIN_ROLES))
        .group_by(Contact.customer_id)
    ).all()
    return dict(rows)


def _weighted(rng: random.Random, choices):
    values, weights = zip(*choices)
    return rng.choices(values, weights=weights)[0]


def _events(rng: random.Random, customer_id: uuid.UUID, profile: str, now: datetime) -> list[dict]:
    """Events of one customer; engaged customers download, open and attend more, dormant ones hardly at all."""
    level = _ACTIVITY[profile]
    rows = []

    def add(kind: EventKind, days_ago: float, **extra) -> None:
        rows.append({
            "id": uuid.uuid4(), "customer_id": customer_id, "kind": kind.value, "occurred_at": now - timedelta(days=days_ago),
            "ref": extra.get("ref"), "due_at": extra.get("due_at"), "value": extra.get("value"), "payload": extra.get("payload", {}),
            "source": "demo", "external_id": None, "recorded_by": None, "recorded_at": now,
        })

    for _ in range(rng.randint(0, int(6 * level) + (1 if level > 0.5 else 0))):
        add(EventKind.DOCUMENT_DOWNLOAD, rng.uniform(0, 28), payload={"document": rng.choice(("伺服选型手册", "视觉检测白皮书", "产线改造案例集"))})
    for number in range(rng.randint(0, int(3 * level) + 1)):
        sent_days = rng.uniform(5, 80)
        add(EventKind.PROPOSAL_SENT, sent_days, ref=f"P{number}")
        if rng.random() < 0.2 + 0.7 * level:
            add(EventKind.PROPOSAL_OPEN, sent_days - rng.uniform(0, 4), ref=f"P{number}")
    for number in range(rng.randint(0, int(3 * level) + 1)):
        invited_days = rng.uniform(5, 80)
        add(EventKind.MEETING_INVITED, invited_days, ref=f"M{number}")
        if rng.random() < 0.15 + 0.8 * level:
            add(EventKind.MEETING_ATTENDED, invited_days - rng.uniform(1, 4), ref=f"M{number}")
    if rng.random() < 0.1 + 0.8 * level:
        add(EventKind.REQUIREMENT_CONFIRMED, rng.uniform(1, 150), value=round(rng.uniform(0.5, 1.0), 2))
    for _ in range(rng.randint(0, 2 if level > 0.3 else 0)):
        submitted = rng.uniform(2, 150)
        # Days the sheet was submitted after its due date (negative: before it).
        late_days = rng.uniform(-5, 1) if rng.random() < 0.3 + 0.6 * level else rng.uniform(1, 10)
        add(EventKind.COMPETITOR_SHEET_SUBMITTED, submitted, due_at=now - timedelta(days=submitted + late_days))
    for number in range(rng.randint(0, 2)):
        raised_days = rng.uniform(10, 170)
        add(EventKind.OBJECTION_RAISED, raised_days, ref=f"O{number}", payload={"topic": rng.choice(("付款条件", "交货期", "价格"))})
        if rng.random() < 0.3 + 0.6 * level:
            add(EventKind.OBJECTION_RESOLVED, max(raised_days - rng.uniform(2, 40 * (1.2 - level)), 0.5), ref=f"O{number}")
    return rows


def _followups(session: Session, recorder: ChangeRecorder, rng: random.Random, customer: Customer, profile: str, now: datetime) -> int:
    """Follow-ups by the owning rep: recent for engaged customers, some overdue, none for most dormant ones."""
    if customer.owner_id is None:
        return 0
    count = {"engaged": rng.randint(1, 3), "lukewarm": rng.randint(0, 2), "dormant": rng.randint(0, 1)}[profile]
    for _ in range(count):
        # About one engaged customer in six was last followed up more than 30 days ago.
        days_ago = rng.uniform(1, 28) if rng.random() < 0.83 else rng.uniform(32, 90)
        captured_at = now - timedelta(days=days_ago)
        followup = Followup(customer_id=customer.id, author_id=customer.owner_id, text=rng.choice(FOLLOWUP_TEXTS), captured_at=captured_at)
        session.add(followup)
        recorder.put("followups", followup, changed_fields={"customer_id", "author_id", "text", "captured_at"})
    return count


def _leads(session: Session, rng: random.Random, now: datetime) -> int:
    """Closed leads behind each rep's win rate, some open ones, and a fresh inflow of every grade."""
    reps = session.exec(select(User).where(User.role == Role.REP).order_by(User.username)).all()
    regions = {region.id: region for region in session.exec(select(Region)).all()}
    rows = []
    for rep in reps:
        skill = rng.uniform(0.1, 0.6)
        for _ in range(rng.randint(4, 16)):
            received = now - timedelta(days=rng.uniform(20, 330))
            assigned = received + timedelta(minutes=rng.uniform(5, 600))
            won = rng.random() < skill
            rows.append(_lead(rng, rep.region_id, received, status=LeadStatus.WON.value if won else LeadStatus.LOST.value, grade="B",
                              assigned_to=rep.id, assigned_at=assigned, closed_at=assigned + timedelta(days=rng.uniform(10, 90))))
        for _ in range(rng.randint(0, 4)):
            received = now - timedelta(days=rng.uniform(1, 20))
            rows.append(_lead(rng, rep.region_id, received, status=LeadStatus.ASSIGNED.value, grade=rng.choice("AB"),
                              assigned_to=rep.id, assigned_at=received + timedelta(minutes=rng.uniform(2, 240))))
    # Unassigned arrivals: an A lead waiting past the escalation limit, B and C leads in the pool, a nurture lead.
    region_ids = sorted(regions, key=str)
    rows.append(_lead(rng, region_ids[0], now - timedelta(minutes=47), status=LeadStatus.NEW.value, grade="A"))
    for grade in ("B", "B", "C", "C", "C"):
        rows.append(_lead(rng, rng.choice(region_ids), now - timedelta(hours=rng.uniform(1, 30)), status=LeadStatus.NEW.value, grade=grade))
    rows.append(_lead(rng, None, now - timedelta(hours=3), status=LeadStatus.NURTURE.value, grade="nurture", source="hotline"))
    session.add_all(rows)
    session.flush()
    return len(rows)


def _lead(rng: random.Random, region_id, received: datetime, status: str, grade: str, source: str | None = None,
          assigned_to=None, assigned_at=None, closed_at=None) -> Lead:
    source = source or rng.choice(("website_form", "website_form", "trade_show", "hotline"))
    website = source == "website_form"
    hotline = source == "hotline"
    a_grade = grade == "A"
    has_budget = None
    if not hotline:
        has_budget = True if a_grade else rng.random() < 0.5
    return Lead(
        source=source,
        received_at=received,
        company_name=f"{rng.choice(TRADE_NAMES)}{rng.choice(('精密', '电子', '新能源', '机械', '包装'))}有限公司",
        contact_name=f"{rng.choice(_CONTACT_SURNAMES)}{rng.choice(('先生', '女士', '工'))}",
        region_id=region_id,
        form_completeness_pct=(rng.choice((85.0, 90.0, 100.0)) if a_grade else rng.choice((40.0, 60.0, 70.0))) if website else None,
        has_budget=has_budget,
        time_on_site_s=(rng.uniform(240, 900) if a_grade else rng.uniform(20, 200)) if website else None,
        transferred_to_human=(grade != "nurture") if hotline else None,
        call_duration_s=(rng.uniform(5, 25) if grade == "nurture" else rng.uniform(60, 400)) if hotline else None,
        grade=grade,
        grade_reason={"rule": "demo", "checks": [], "tried": [], "note": "graded when the demo was generated"},
        status=status,
        assigned_to=assigned_to,
        assigned_at=assigned_at,
        assignment_lag_s=(assigned_at - received).total_seconds() if assigned_at else None,
        assignment={"method": "demo"} if assigned_to else {},
        closed_at=closed_at,
        created_at=received,
    )


def _channels(session: Session) -> int:
    """Two robots, disabled, with URLs under .invalid (a top-level domain that never resolves)."""
    east = session.exec(select(Region).where(Region.code == "east")).first()
    south = session.exec(select(Region).where(Region.code == "south")).first()
    channels = [
        AlertChannel(name="华东大区企业微信群", kind="wecom", region_id=east.id if east else None, enabled=False,
                     webhook_url="https://wecom-robot.example.invalid/cgi-bin/webhook/send?key=demo-not-a-real-key"),
        AlertChannel(name="华南大区钉钉群", kind="dingtalk", region_id=south.id if south else None, enabled=False,
                     webhook_url="https://dingtalk-robot.example.invalid/robot/send?access_token=demo-not-a-real-token",
                     secret="SECdemo-not-a-real-secret"),
    ]
    session.add_all(channels)
    session.flush()
    return len(channels)
