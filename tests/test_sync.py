"""Offline sync end to end: the real client code against a real server on SQLite and PostgreSQL.

Every scenario ends by checking zero duplicate applies, zero lost mutations and the same
rows on the server and every device.
"""

import uuid

import httpx
import pytest
from sqlmodel import Session, func, select

from mobile.offline.sync import SyncUnreachable
from server.models import Contact, Customer, Followup, Role, SyncClient, SyncConflict, SyncRejection, User
from tests.devices import Device, assert_device_matches_server, next_rep, sign_in
from tests.faults import FaultProxy
from tests.servers import ApiServer


@pytest.fixture
def rep(api_server: ApiServer) -> User:
    return next_rep(api_server)


def _count(server: ApiServer, model, *conditions) -> int:
    with Session(server.engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*conditions)).one()


def _server_row(server: ApiServer, model, row_id: str):
    with Session(server.engine) as session:
        return session.get(model, uuid.UUID(row_id))


def test_first_sync_downloads_scope(api_server, rep, tmp_path):
    device = Device(api_server, rep, tmp_path)

    report = device.sync(pull_limit=40)

    owned = _count(api_server, Customer, Customer.owner_id == rep.id, Customer.deleted == False)  # noqa: E712
    assert report.pages >= 2
    assert len(device.rows("customers")) == owned
    assert device.store.pending_count() == 0
    assert_device_matches_server(device)


def test_offline_create_reaches_other_device(api_server, rep, tmp_path):
    phone, tablet = Device(api_server, rep, tmp_path), Device(api_server, rep, tmp_path)
    phone.sync()
    tablet.sync()

    customer_id = phone.store.put("customers", {"name": "离线新建客户甲", "industry": "光伏"})
    contact_id = phone.store.put("contacts", {"customer_id": customer_id, "name": "赵工", "decision_role": "technical"})
    assert phone.store.pending_count() == 2
    phone.sync()
    tablet.sync()

    assert tablet.rows("customers")[customer_id]["name"] == "离线新建客户甲"
    assert tablet.rows("contacts")[contact_id]["customer_id"] == customer_id
    assert phone.store.pending_count() == 0
    assert _server_row(api_server, Customer, customer_id).owner_id == rep.id
    for device in (phone, tablet):
        assert_device_matches_server(device)


def test_killed_before_push_keeps_outbox(api_server, rep, tmp_path):
    device = Device(api_server, rep, tmp_path)
    device.sync()
    customer_id = device.store.put("customers", {"name": "推送前被杀客户"})

    device.restart()
    assert device.store.pending_count() == 1
    device.sync()

    assert _count(api_server, Customer, Customer.name == "推送前被杀客户") == 1
    assert customer_id in device.rows("customers")
    assert device.store.pending_count() == 0
    assert_device_matches_server(device)


def test_lost_push_response_applies_once(api_server, rep, tmp_path):
    proxy = FaultProxy("127.0.0.1", int(api_server.base_url.rsplit(":", 1)[1])).start()
    try:
        device = Device(api_server, rep, tmp_path, base_url=proxy.url)
        device.sync()
        customer_id = device.store.put("customers", {"name": "响应丢失客户"})
        device.store.put("followups", {"customer_id": customer_id, "text": "电话沟通，约下周拜访"})
        proxy.drop_response = lambda number, line: line.startswith("POST /api/sync/push")

        with pytest.raises(SyncUnreachable):
            device.sync()
        assert proxy.dropped_responses == 1
        assert _count(api_server, Customer, Customer.name == "响应丢失客户") == 1

        device.restart()
        proxy.drop_response = lambda number, line: False
        device.sync()
    finally:
        proxy.stop()

    assert _count(api_server, Customer, Customer.name == "响应丢失客户") == 1
    assert _count(api_server, Followup, Followup.customer_id == uuid.UUID(customer_id)) == 1
    assert device.store.pending_count() == 0
    assert_device_matches_server(device)


def test_crash_while_applying_page_resumes(api_server, rep, tmp_path):
    device = Device(api_server, rep, tmp_path)
    crashes = iter([True, False])

    def crash_once():
        if next(crashes, False):
            raise RuntimeError("simulated crash while applying a page")

    device.before_page_commit = crash_once
    with pytest.raises(RuntimeError):
        device.sync(pull_limit=100)
    assert device.store.cursor == 0
    assert device.rows("customers") == {}

    device.restart()
    device.before_page_commit = None
    device.sync(pull_limit=100)

    assert_device_matches_server(device)


def test_replayed_batch_applies_once(api_server, rep):
    token = sign_in(api_server.base_url, rep.username)
    client_id = str(uuid.uuid4())
    customer_id = str(uuid.uuid4())
    batch = {"client_id": client_id, "mutations": [
        {"id": 1, "op": "put", "entity": "customers", "entity_id": customer_id, "fields": {"name": "重放批次客户"}},
        {"id": 2, "op": "put", "entity": "followups", "entity_id": str(uuid.uuid4()),
         "fields": {"customer_id": customer_id, "text": "重放测试"}},
    ]}
    headers = {"Authorization": f"Bearer {token}"}

    first = httpx.post(f"{api_server.base_url}/api/sync/push", json=batch, headers=headers).json()
    second = httpx.post(f"{api_server.base_url}/api/sync/push", json=batch, headers=headers).json()

    assert [r["status"] for r in first["results"]] == ["applied", "applied"]
    assert [r["status"] for r in second["results"]] == ["duplicate", "duplicate"]
    assert second["last_mutation_id"] == 2
    assert _count(api_server, Customer, Customer.name == "重放批次客户") == 1
    assert _count(api_server, Followup, Followup.customer_id == uuid.UUID(customer_id)) == 1


def test_gap_in_mutation_ids_rejected(api_server, rep):
    token = sign_in(api_server.base_url, rep.username)
    headers = {"Authorization": f"Bearer {token}"}
    client_id = str(uuid.uuid4())

    def push(*ids):
        mutations = [{"id": i, "op": "put", "entity": "customers", "entity_id": str(uuid.uuid4()),
                      "fields": {"name": f"缺号测试客户{i}-{client_id[:6]}"}} for i in ids]
        return httpx.post(f"{api_server.base_url}/api/sync/push", json={"client_id": client_id, "mutations": mutations}, headers=headers).json()

    first = push(1, 2)
    gapped = push(5, 6)
    resent = push(3, 4, 5, 6)

    assert first["last_mutation_id"] == 2
    assert gapped["gap"] is True
    assert gapped["last_mutation_id"] == 2
    assert gapped["results"] == []
    assert resent["gap"] is False
    assert resent["last_mutation_id"] == 6
    assert _count(api_server, Customer, Customer.name.like(f"缺号测试客户%-{client_id[:6]}")) == 6


def test_bad_record_in_batch_of_50(api_server, rep, tmp_path):
    device = Device(api_server, rep, tmp_path)
    device.sync()
    ids = [device.store.put("customers", {"name": f"批量客户{index:02d}-{rep.username}"}) for index in range(49)]
    bad_id = device.store.put("customers", {"name": "坐标错误客户", "latitude": 123.0})
    assert device.store.pending_count() == 50

    report = device.sync()

    assert report.pushed == 49
    assert report.rejected == 1
    assert _count(api_server, Customer, Customer.name.like(f"批量客户%-{rep.username}")) == 49
    assert _server_row(api_server, Customer, bad_id) is None
    rejections = device.store.rejections(bad_id)
    assert len(rejections) == 1
    assert "latitude" in rejections[0]["reason"]
    assert "123" in rejections[0]["reason"]
    assert bad_id not in device.rows("customers")
    assert set(ids) <= set(device.rows("customers"))
    assert device.store.pending_count() == 0
    assert_device_matches_server(device)


def test_device_clock_does_not_order(api_server, rep, tmp_path, monkeypatch):
    from mobile.offline import store as store_module

    ahead, behind = Device(api_server, rep, tmp_path), Device(api_server, rep, tmp_path)
    ahead.sync()
    behind.sync()
    customer_id = next(iter(ahead.rows("customers")))

    monkeypatch.setattr(store_module, "utc_now_iso", lambda: "2099-01-01T00:00:00+00:00")
    ahead.store.patch("customers", customer_id, {"industry": "时钟2099"})
    ahead.store.put("followups", {"customer_id": customer_id, "text": "设备时钟在2099年", "captured_at": "2099-01-01T00:00:00+00:00"})
    ahead.sync()
    monkeypatch.setattr(store_module, "utc_now_iso", lambda: "2026-12-03T00:00:00+00:00")
    behind.store.patch("customers", customer_id, {"industry": "时钟慢一天"})
    behind.sync()
    ahead.sync()

    # The later push wins, whatever the device clocks showed.
    assert _server_row(api_server, Customer, customer_id).industry == "时钟慢一天"
    followup = [f for f in ahead.rows("followups").values() if f["text"] == "设备时钟在2099年"][0]
    assert followup["captured_at"].startswith("2099-01-01")
    for device in (ahead, behind):
        assert_device_matches_server(device)


def test_delete_is_not_resurrected(api_server, rep, tmp_path):
    first, second = Device(api_server, rep, tmp_path), Device(api_server, rep, tmp_path)
    customer_id = first.store.put("customers", {"name": "删除后不复活客户"})
    first.sync()
    second.sync()
    assert customer_id in second.rows("customers")

    first.store.delete("customers", customer_id)
    first.sync()
    second.store.patch("customers", customer_id, {"industry": "离线修改"})
    second.sync()
    first.sync()

    assert _server_row(api_server, Customer, customer_id).deleted is True
    assert customer_id not in first.rows("customers")
    assert customer_id not in second.rows("customers")
    assert "deleted" in second.store.rejections(customer_id)[0]["reason"]
    fresh = Device(api_server, rep, tmp_path)
    fresh.sync()
    assert customer_id not in fresh.rows("customers")
    for device in (first, second, fresh):
        assert_device_matches_server(device)


def test_write_during_sync_sent_next_time(api_server, rep, tmp_path):
    device = Device(api_server, rep, tmp_path)
    device.sync()
    customer_id = next(iter(device.rows("customers")))
    device.store.patch("customers", customer_id, {"industry": "同步前写入"})
    written = []

    def write_mid_sync():
        if not written:
            written.append(True)
            # A second connection, as the UI thread would be: waits for the pull's transaction.
            import threading

            threading.Thread(target=device.store.patch, args=("customers", customer_id, {"address": "同步中写入的地址"})).start()

    device.before_page_commit = write_mid_sync
    device.sync()
    device.before_page_commit = None
    device.store.query("SELECT 1")  # the writer thread finishes once the pull commits

    import time

    deadline = time.monotonic() + 5
    while device.store.pending_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert device.store.pending_count() == 1
    assert device.rows("customers")[customer_id]["address"] == "同步中写入的地址"
    device.sync()

    assert _server_row(api_server, Customer, customer_id).address == "同步中写入的地址"
    assert _server_row(api_server, Customer, customer_id).industry == "同步前写入"
    assert device.store.pending_count() == 0
    assert_device_matches_server(device)


def test_same_field_conflict_recorded(api_server, rep, tmp_path):
    phone, tablet = Device(api_server, rep, tmp_path), Device(api_server, rep, tmp_path)
    phone.sync()
    tablet.sync()
    contact_id = next(iter(phone.rows("contacts")))

    phone.store.patch("contacts", contact_id, {"phone": "13911110000"})
    tablet.store.patch("contacts", contact_id, {"phone": "13922220000"})
    phone.sync()
    tablet.sync()
    phone.sync()

    assert _server_row(api_server, Contact, contact_id).phone == "13922220000"
    assert phone.rows("contacts")[contact_id]["phone"] == "13922220000"
    for device in (phone, tablet):
        conflicts = device.store.conflicts(contact_id)
        assert len(conflicts) == 1
        assert conflicts[0]["field"] == "phone"
        assert "13911110000" in conflicts[0]["lost_value"]
        assert "13922220000" in conflicts[0]["won_value"]
        assert_device_matches_server(device)


def test_different_fields_both_kept(api_server, rep, tmp_path):
    phone, tablet = Device(api_server, rep, tmp_path), Device(api_server, rep, tmp_path)
    phone.sync()
    tablet.sync()
    customer_id = next(iter(phone.rows("customers")))

    phone.store.patch("customers", customer_id, {"industry": "锂电"})
    tablet.store.patch("customers", customer_id, {"address": "新地址888号"})
    phone.sync()
    tablet.sync()
    phone.sync()

    server_row = _server_row(api_server, Customer, customer_id)
    assert server_row.industry == "锂电"
    assert server_row.address == "新地址888号"
    assert _count(api_server, SyncConflict, SyncConflict.entity_id == uuid.UUID(customer_id)) == 0
    for device in (phone, tablet):
        assert_device_matches_server(device)


def test_flaky_network_loses_nothing(api_server, rep, tmp_path):
    proxy = FaultProxy("127.0.0.1", int(api_server.base_url.rsplit(":", 1)[1])).start()
    proxy.drop_request = lambda number, line: number % 3 == 0
    try:
        device = Device(api_server, rep, tmp_path, base_url=proxy.url)
        created = []
        for round_number in range(6):
            created += [device.store.put("followups", {"customer_id": cid, "text": f"弱网跟进{round_number}"})
                        for cid in list(device.rows("customers"))[:20]]
            for _attempt in range(10):
                try:
                    device.sync(pull_limit=300)
                    break
                except SyncUnreachable:
                    continue
            else:
                pytest.fail("sync never succeeded through the proxy")
    finally:
        proxy.stop()

    assert proxy.dropped_requests > 0
    with Session(api_server.engine) as session:
        on_server = session.exec(select(func.count()).select_from(Followup).where(Followup.id.in_([uuid.UUID(i) for i in created]))).one()
    assert on_server == len(created)
    assert device.store.pending_count() == 0
    assert_device_matches_server(device)


def test_reassigned_customer_moves_devices(api_server, tmp_path):
    with Session(api_server.engine) as session:
        lead = session.exec(select(User).where(User.role == Role.REGIONAL_LEAD).order_by(User.username)).first()
        reps = session.exec(select(User).where(User.role == Role.REP, User.region_id == lead.region_id).order_by(User.username.desc())).all()
    old_rep, new_rep = reps[0], reps[1]
    old_device, new_device, lead_device = (Device(api_server, u, tmp_path) for u in (old_rep, new_rep, lead))
    for device in (old_device, new_device, lead_device):
        device.sync()
    customer_id = next(iter(old_device.rows("customers")))
    child_contacts = [c for c in old_device.rows("contacts").values() if c["customer_id"] == customer_id]

    lead_device.store.patch("customers", customer_id, {"owner_id": str(new_rep.id)})
    lead_device.sync()
    old_device.sync()
    new_device.sync()

    assert customer_id not in old_device.rows("customers")
    assert customer_id in new_device.rows("customers")
    assert customer_id in lead_device.rows("customers")
    for contact in child_contacts:
        assert contact["id"] not in old_device.rows("contacts")
        assert contact["id"] in new_device.rows("contacts")
    for device in (old_device, new_device, lead_device):
        assert_device_matches_server(device)


def test_stale_cursor_resyncs_keeping_outbox(api_server, rep, tmp_path):
    from server.sync.compaction import purge_tombstones

    device, other = Device(api_server, rep, tmp_path), Device(api_server, rep, tmp_path)
    device.sync()
    other.sync()
    doomed = other.store.put("customers", {"name": "将被删除的客户"})
    other.sync()
    device.sync()
    other.store.delete("customers", doomed)
    other.sync()
    with Session(api_server.engine) as session:
        purged = purge_tombstones(session, retention_seconds=0)
    assert purged >= 1

    customer_id = next(iter(device.rows("customers")))
    device.store.patch("customers", customer_id, {"industry": "重新同步时保留"})
    report = device.sync()

    assert report.resynced is True
    assert doomed not in device.rows("customers")
    assert _server_row(api_server, Customer, customer_id).industry == "重新同步时保留"
    assert device.store.pending_count() == 0
    assert_device_matches_server(device)


def test_rejection_counts_as_applied_id(api_server, rep, tmp_path):
    device = Device(api_server, rep, tmp_path)
    device.sync()
    device.store.put("customers", {"name": ""})
    device.store.put("customers", {"name": "空名之后的客户"})

    device.sync()

    with Session(api_server.engine) as session:
        client = session.get(SyncClient, uuid.UUID(device.store.client_id))
        rejection = session.exec(select(SyncRejection).where(SyncRejection.client_id == client.client_id)).one()
    assert client.last_mutation_id == 2
    assert rejection.mutation_id == 1
    assert "name" in rejection.reason
    assert _count(api_server, Customer, Customer.name == "空名之后的客户") == 1


def test_capture_time_offset_kept(api_server, rep, tmp_path):
    device = Device(api_server, rep, tmp_path)
    device.sync()
    customer_id = next(iter(device.rows("customers")))
    followup_id = device.store.put("followups", {"customer_id": customer_id, "text": "北京时间上午九点半", "captured_at": "2026-12-04T09:30:00+08:00"})

    device.sync()

    stored = _server_row(api_server, Followup, followup_id).captured_at
    assert stored.utcoffset() is not None
    assert stored.isoformat() == "2026-12-04T01:30:00+00:00"
    assert device.rows("followups")[followup_id]["captured_at"] == "2026-12-04T01:30:00+00:00"
