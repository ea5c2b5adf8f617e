"""Change sequence numbers follow commit order, so a pull never skips a late commit (PostgreSQL)."""

import threading
import time
import uuid

import pytest
from sqlmodel import Session, select

from server.db import writing_session
from server.models import Customer
from server.sync.changes import ChangeRecorder
from tests.devices import Device, assert_device_matches_server, next_rep


def _start_write(server, customer_id: uuid.UUID, industry: str) -> tuple[Session, ChangeRecorder]:
    session = writing_session(server.engine)
    customer = session.get(Customer, customer_id)
    customer.industry = industry
    session.add(customer)
    recorder = ChangeRecorder(session)
    recorder.put("customers", customer, changed_fields={"industry"})
    return session, recorder


def test_late_commit_not_skipped(api_server, tmp_path):
    if api_server.backend != "postgres":
        pytest.skip("SQLite runs one writer at a time, so commits cannot interleave there")
    rep = next_rep(api_server)
    device = Device(api_server, rep, tmp_path)
    device.sync()
    first_id, second_id = (uuid.UUID(i) for i in list(device.rows("customers"))[:2])

    slow_session, slow_recorder = _start_write(api_server, first_id, "先取号后提交")
    slow_recorder.flush()  # holds the counter row, as a transaction about to commit does
    slow_seq = slow_session.get(Customer, first_id).version

    fast_result = {}

    def fast_writer():
        session, recorder = _start_write(api_server, second_id, "后取号先完成")
        recorder.flush()  # waits for the counter row until the slow transaction ends
        fast_result["seq"] = session.get(Customer, second_id).version
        session.commit()
        session.close()

    writer = threading.Thread(target=fast_writer)
    writer.start()
    time.sleep(0.5)
    assert writer.is_alive(), "the second writer must wait for the counter row"

    device.sync()  # pulls while both transactions are open
    assert device.rows("customers")[str(first_id)]["industry"] != "先取号后提交"

    slow_session.commit()
    slow_session.close()
    writer.join(timeout=30)
    device.sync()

    assert fast_result["seq"] > slow_seq
    assert device.rows("customers")[str(first_id)]["industry"] == "先取号后提交"
    assert device.rows("customers")[str(second_id)]["industry"] == "后取号先完成"
    assert_device_matches_server(device)
    with Session(api_server.engine) as session:
        assert session.exec(select(Customer.industry).where(Customer.id == first_id)).one() == "先取号后提交"
