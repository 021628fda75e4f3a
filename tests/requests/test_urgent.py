"""Urgent matters (紧急) reach the customer's 总部对接人 at once, or the duty list (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailbot.app import App
from mailbot.daemon.calendar import tick
from mailbot.db.models import Request
from mailbot.demo import replies
from mailbot.pipeline import intake
from mailbot.requests.store import list_requests
from tests.support.mailflow import GD, HQ, LIUYANG, SC, Clock, answer_to, arrive, at, drop, outbox, parsed, text


def test_urgent_mail_reaches_the_customers_hq_staff_with_the_original(app: App) -> None:
    # 【紧急】 about S005 goes to its designated HQ staff (张伟) at once, original attached; the sender gets a number.
    raw = replies.build(sender=("马丽", "mali@sx.example.cn"), to=HQ, at=at(2026, 11, 19, 8, 40),
                          subject="【紧急】国家能源集团榆林项目供气中断风险", body="S005 客户通知可能中断供气三天，请总部协调。\n\n马丽")
    drop(app, raw, at(2026, 11, 19, 8, 40))
    (o,) = intake.run_pass(app)
    assert o.status == "processed"
    (fwd,) = outbox(app, kind="urgent_forward")
    assert fwd.recipients == "zhangwei@hq.example.cn"
    # Flagged as urgent in every common client, with the time a first answer is due.
    head = parsed(fwd)
    assert (head["Importance"], head["X-Priority"]) == ("high", "1 (Highest)")
    assert "请于2026年11月20日 08:40前回复处理意见" in text(fwd)
    att = list(parsed(fwd).iter_attachments())
    assert att and att[0].get_content_type() == "message/rfc822"
    (ack,) = outbox(app, kind="urgent_ack")
    with app.sessions() as s:
        req = s.scalar(select(Request))
        assert req.urgent and req.customer.code == "S005" and req.number in ack.subject


def test_urgent_mail_without_a_customer_goes_to_the_duty_list(app: App) -> None:
    # No customer can be identified: the duty list gets it.
    drop(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 19, 8), subject="紧急：管线第三方施工挖断",
                                body="今晨某工地挖断支线，已抢修。"), at(2026, 11, 19, 8))
    intake.run_pass(app)
    (fwd,) = outbox(app, kind="urgent_forward")
    assert fwd.recipients == "zhaolei@hq.example.cn,zhangwei@hq.example.cn"



def test_the_senders_signature_is_not_part_of_the_urgent_matter(app: App) -> None:
    # Free-text urgent mail ends with 马丽's name, department and numbers: the 诉求, the forward's text and the
    # acknowledgement carry the matter only (the original, signature and all, is attached to the forward).
    matter = "S005 客户通知可能中断供气三天，请总部协调。"
    raw = replies.build(sender=("马丽", "mali@sx.example.cn"), to=HQ, at=at(2026, 11, 19, 8, 40),
                        subject="【紧急】国家能源集团榆林项目供气中断风险",
                        body=f"{matter}\n\n马丽\n陕西分公司市场营销部\n电话：029-88886666\n手机：13800000000\n\n发自我的iPhone")
    drop(app, raw, at(2026, 11, 19, 8, 40))
    intake.run_pass(app)
    with app.sessions() as s:
        assert s.scalar(select(Request.text)) == matter
    (fwd,) = outbox(app, kind="urgent_forward")
    assert matter in text(fwd) and "13800000000" not in text(fwd) and "029-88886666" not in text(fwd)


XJ = ("艾力", "aili@xj.example.cn")  # 新疆分公司: serves S005 国家能源投资集团, S007 中国大唐集团, S012, V008


@pytest.mark.parametrize("subject, body, staff, code", [
    # a distinctive part of the name, among the customers the sender's unit serves
    ("【紧急】大唐电厂明日停机", "大唐那边通知，其电厂明日停机检修，用气量减半。", "chenjing@hq.example.cn", "S007"),
    # an alias from directory.yaml
    ("【紧急】供气中断风险", "国能集团新疆公司通知可能中断供气两天。", "zhangwei@hq.example.cn", "S005"),
])
def test_urgent_mail_naming_a_customer_the_way_people_write_it_reaches_its_staff(
        app: App, subject: str, body: str, staff: str, code: str) -> None:
    drop(app, replies.build(sender=XJ, to=HQ, at=at(2026, 11, 19, 8), subject=subject, body=body), at(2026, 11, 19, 8))
    intake.run_pass(app)
    (fwd,) = outbox(app, kind="urgent_forward")
    assert fwd.recipients == staff
    with app.sessions() as s:
        assert s.scalars(select(Request)).one().customer.code == code


def test_urgent_mail_that_could_mean_two_customers_reaches_both_staff_and_says_so(app: App) -> None:
    drop(app, replies.build(sender=GD, to=HQ, at=at(2026, 11, 19, 8), subject="【紧急】门站停气",
                            body="电网公司和华润两家的门站今晨同时停气，原因待查。"), at(2026, 11, 19, 8))
    intake.run_pass(app)
    (fwd,) = outbox(app, kind="urgent_forward")
    assert fwd.recipients == "liuyang@hq.example.cn,chenjing@hq.example.cn"
    assert "未能确定，可能是S001 国家电网有限公司、S003 华润燃气控股有限公司" in text(fwd)
    with app.sessions() as s:
        assert s.scalars(select(Request)).one().customer is None


def test_an_urgent_matter_nobody_answers_climbs_the_ladder_in_working_hours(app: App, clock: Clock) -> None:
    # Friday 16:30 SC reports about 大唐 (S007, 陈静's); nobody answers. With an 08:30–17:30 day, 2 working hours
    # later is Monday 09:30 — the 部门负责人 (张伟) is told; 4 are Monday 11:30 — the duty list (赵磊, 张伟). Each once.
    # A second matter, about S002 and answered by its 刘洋 on Monday 09:00, climbs nowhere.
    clock.set(2026, 11, 27, 16, 30)
    for subject, body in (("【紧急】大唐电厂停机", "大唐那边电厂停机。"), ("【紧急】S002管线泄漏", "S002 管线泄漏。")):
        arrive(app, replies.build(sender=SC, to=HQ, at=clock.now, subject=subject, body=body))
    clock.set(2026, 11, 30, 9, 0)
    answer_to(app, outbox(app, kind="urgent_forward")[1], LIUYANG, "状态：处理中\n已联系客户。")
    ladder = lambda: [(m.idem_key, m.recipients) for m in outbox(app, "req-ladder:")]  # noqa: E731
    for moment in ((2026, 11, 27, 17, 20), (2026, 11, 30, 9, 20)):
        clock.set(*moment)
        tick(app)
        assert ladder() == []
    clock.set(2026, 11, 30, 9, 31)
    tick(app)
    tick(app)
    assert ladder() == [("req-ladder:SQ-2026-0001:1", "zhangwei@hq.example.cn")]
    clock.set(2026, 11, 30, 11, 31)
    tick(app)
    assert ladder() == [("req-ladder:SQ-2026-0001:1", "zhangwei@hq.example.cn"),
                        ("req-ladder:SQ-2026-0001:2", "zhaolei@hq.example.cn,zhangwei@hq.example.cn")]
    assert "此紧急事项登记已超过4个工作小时，承办人陈静尚未回复办理意见" in text(outbox(app, "req-ladder:SQ-2026-0001:2")[0])


def test_a_request_is_titled_by_the_urgent_mails_subject_not_its_greeting(app: App) -> None:
    # "总部领导：\n今晨接…" used to become the 诉求's title in subjects, listings and the bulletin.
    raw = replies.build(sender=("马丽", "mali@sx.example.cn"), to=HQ, at=at(2026, 11, 19, 8, 40),
                        subject="【紧急】延长石油榆林项目供气中断风险",
                        body="总部领导：\n今晨接陕西延长石油（集团）有限责任公司通知，其榆林化工项目可能中断供气三天。\n\n马丽\n陕西分公司")
    drop(app, raw, at(2026, 11, 19, 8, 40))
    intake.run_pass(app)
    with app.sessions() as s:
        assert s.scalar(select(Request.title)) == "延长石油榆林项目供气中断风险"
    assert [row["title"] for row in list_requests(app)] == ["延长石油榆林项目供气中断风险"]  # `mailbot requests`
