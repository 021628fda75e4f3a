"""`mailbot demo`: one month of §8.1.4 reporting, played on the embedded default in a scratch directory.

The clock is simulated day by day from the request day to the bulletin; on
each day the mail the units would send arrives in the Maildir, the pipeline
and the calendar run exactly as the daemon runs them, and the outbox is
delivered to a Maildir. At the end the bulletin PDF and the outbox are there
to open.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import yaml
from sqlalchemy import select

from mailbot.app import App, build_app
from mailbot.bulletin.compile import bulletin_path
from mailbot.db.migrate import upgrade
from mailbot.db.models import Customer, OutboxMail, Request, Unit
from mailbot.db.session import transaction
from mailbot.demo import replies
from mailbot.demo.campaign import NUMBER as CAMPAIGN
from mailbot.demo.campaign import DemoCampaign
from mailbot.demo.campaign import status as campaign_status
from mailbot.demo.days import TZ as TZ
from mailbot.demo.days import At, Drop, Mail, play_days
from mailbot.demo.days import SimClock as SimClock
from mailbot.demo.survey import evaluation_table, play_survey
from mailbot.directory.lookup import sync_directory
from mailbot.domain import due
from mailbot.errors import MailbotError
from mailbot.evaluation.period import EvalPeriod
from mailbot.settings import Settings, load_settings
from mailbot.visits.store import plan_visit

HQ = "kcr@hq.example.cn"


def demo_settings(root: Path) -> Settings:
    """Write the scratch directory's own config file, so `mailbot --config …` can look at the month afterwards."""
    project = Path(__file__).resolve().parents[2]
    config = {
        "data_dir": str(root), "database": {"url": f"sqlite:///{root / 'mailbot.sqlite3'}"},
        "mailbox": {"path": str(root / "mail")}, "outbox": {"path": str(root / "outbox")},
        "directory": str(project / "config/directory.example.yaml"), "identity": {"address": HQ},
        "bulletin": {"first_issue": "2026-10", "editor": "王芳", "reviewer": "刘洋", "issuer": "张伟"},
    }
    path = root / "mailbot.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return load_settings(path, home=project)


def _sent(app: App, key_prefix: str) -> OutboxMail:
    with app.sessions() as s:
        row = s.scalars(select(OutboxMail).where(OutboxMail.idem_key.like(key_prefix + "%"))
                        .order_by(OutboxMail.id)).first()
        assert row is not None, f"no mail {key_prefix}"
        return row


def _request_notice(app: App, unit: str, customer: str) -> bytes:
    """The notice of the 诉求 a unit's monthly report opened for a customer: its number depends on what opened one
    before it (the campaign's does, in the two-month demo)."""
    with app.sessions() as s:
        number = s.scalars(select(Request.number).join(Request.unit).join(Request.customer).where(
            Unit.code == unit, Customer.code == customer, Request.submission_id.is_not(None)).order_by(Request.id)
        ).first()
    return _sent(app, f"req-notice:{number}:assigned").raw


def _request(app: App, period: str, unit: str) -> bytes:
    return _sent(app, f"request:{period}:{unit}").raw


GD = {
    "S001": {"1": "已按集团方案与省电网公司签订2027年度供气框架协议，执行平稳。",
             "4": "客户希望总部出面协调2027年冬季保供气量，增加调峰量约3000万方。",
             "5": "合同价格联动条款尚未最终确认，存在结算滞后风险。", "风险等级": "一般", "需总部协调": "是"},
    "S002": {"3": "10月拜访时商定的LNG接收站共用事项，已完成技术交流。", "风险等级": "无"},
    "S003": {"2": "客户反映全国性综合能源服务方案报价偏高，建议总部研究。", "风险等级": "无"},
    "S008": {"9": "客户新任总经理到任，拟于12月拜访。"},
    "V001": {"问题或诉求": "深圳燃气提出冬季高峰期增供需求约500万方。", "本单位处理情况": "已协调本地资源，缺口约200万方。",
             "需总部协调": "是"},
}
JS = {
    "S001": {"1": "执行正常。"},
    "S003": {"5": "客户子公司拖欠气款约1.2亿元，已发函催收。", "6": "就计量争议已提出书面异议，存在诉讼可能。",
             "风险等级": "重大", "需总部协调": "是", "4": "请总部与华润燃气总部高层沟通欠款事宜。"},
    "S006": {"1": "宝武集团南京基地用气量同比增长12%。"},
    "V005": {"问题或诉求": "无", "本单位处理情况": "无"},
}
BJ_BAD = {"S001": {"1": "执行正常。", "风险等级": "较大", "需总部协调": "可能"},
          "S004": {"3": "华能北京热电来访事项已落实。"}}
BJ_GOOD = {"S001": {"1": "执行正常。", "风险等级": "一般", "需总部协调": "否",
                    "8": "北京市拟出台燃气价格联动新政，可能影响明年结算价格。"},
           "S004": {"3": "华能北京热电来访事项已落实。"},
           "S010": {"1": "北京燃气冬季保供合同执行平稳。"}}
SC = {"S002": {"1": "执行正常。"}, "S007": {"7": "客户所属电厂亏损扩大，付款周期延长至90天。", "风险等级": "一般"},
      "S009": {}, "S012": {"8": "地方政府拟调整管输费定价，可能影响购销价格。"}}

# The month before: November's risks are marked against these (S001 重大 → 一般 ↓, S003 一般 → 重大 ↑, S002 cleared).
GD_EARLIER = {"S001": {"1": "2027年度供气框架协议谈判中。", "5": "客户要求下调合同价格，谈判陷入僵局，存在断供风险。",
                       "风险等级": "重大", "需总部协调": "否"},
              "S002": {"6": "10月计量数据存在争议，正在核对。", "风险等级": "一般"}}
JS_EARLIER = {"S003": {"5": "客户子公司气款回收偏慢，已逾期约3000万元。", "风险等级": "一般"}}
SX_EARLIER = {"S005": {"7": "客户煤电项目投产推迟，年度用气量可能下调。", "风险等级": "一般"}}

VISIT_SUMMARY = {
    "会谈纪要": "双方就2027年度购销合同量、价格联动机制及今冬明春保供安排深入交流。客户希望冬季高峰期增加调峰量。",
    "达成事项": "2027年度合同量原则上维持2026年水平，价格联动机制于12月底前确定。",
    "后续事项": [("提交2027年度合同量及价格机制方案", "刘洋", "2026-12-10"),
                 ("报送北京地区冬季调峰需求测算", "北京分公司", "2026-12-05")],
}


MARKER = ".mailbot-demo"   # left in each demo directory: only such a directory is ever wiped by the next demo


def run_demo(root: Path, *, period: str = "2026-11", out: Callable[[str], None] = print) -> int:
    root = root.resolve()
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).is_file():
            raise MailbotError(f"{root} exists and was not made by mailbot demo; not deleting it "
                               f"(choose another --dir, or empty it yourself)")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("made by mailbot demo; the next demo in this directory deletes it all\n")
    clock = SimClock()
    app = build_app(demo_settings(root), clock=clock)
    upgrade(app.engine)
    with transaction(app.sessions) as s:
        sync_directory(s, app.directory)
    month = due.Month.parse(period)
    before = month.previous()
    campaign = DemoCampaign(root, due.request_date(before, app.schedule, app.calendar))
    out(f"demo: simulating {before.label} and {month.label} in {root}")
    out(f"demo: {before.label}, with a national campaign launched on its request day (config/campaign.example.yaml)")
    play_month(app, clock, before.key, out, script=quiet_month, also=campaign,
               until=due.request_date(month, app.schedule, app.calendar) - timedelta(days=1))
    out("")
    out(f"demo: {month.label}")
    play_month(app, clock, period, out, also=campaign)
    pdf = bulletin_path(app, period)
    outbox = app.settings.path(app.settings.outbox.path) / "new"
    month_mails = len(list(outbox.iterdir()))
    out("")
    out(f"demo: the campaign's board (mailbot campaign status {CAMPAIGN})")
    for line in campaign_status(app):
        out(f"  {line}")
    out("")
    out("demo: a satisfaction survey of 广东分公司's customers (config/survey.example.yaml)")
    report = play_survey(app, clock, month.next().first_day, out)
    out("")
    quarter = EvalPeriod.quarter_of(month.first_day).key
    out(f"demo: the units' evaluation so far (mailbot evaluate --period {quarter})")
    out(evaluation_table(app, quarter))
    out("")
    out(f"bulletin PDFs: {bulletin_path(app, before.key)} and {pdf}")
    out(f"survey report PDF: {report}")
    out(f"outbox ({month_mails} mails from the two months, {len(list(outbox.iterdir()))} with the survey's): "
        f"{outbox}")
    out(f"database: {app.settings.database.url}")
    out(f"the month at a glance: .venv/bin/mailbot --config {root / 'mailbot.yaml'} status --period {period}")
    out(f"the board: .venv/bin/mailbot --config {root / 'mailbot.yaml'} web, then http://127.0.0.1:8080/signin as "
        f"zhangwei@hq.example.cn (the sign-in link is printed there)")
    return 0 if pdf.exists() and report.exists() else 1


Script = Callable[[App, str, date, date, At], list[Mail]]   # (app, period, day, deadline, at) → the day's mail


def play_month(app: App, clock: SimClock, period: str, out: Callable[[str], None], drop: Drop | None = None, *,
               script: Script | None = None, also: DemoCampaign | None = None, until: date | None = None) -> None:
    """A reporting month from its request day to its bulletin (or `until`): the units' mail of `script` (default:
    the demo's November, with HQ planning a visit on the first day), and a campaign running beside it.
    """
    p = due.Month.parse(period)
    start = due.request_date(p, app.schedule, app.calendar)
    end = until or due.bulletin_date(p, app.schedule, app.calendar)
    deadline = due.deadline(p, app.schedule)
    out(f"request {start}, deadline {deadline}, bulletin {due.bulletin_date(p, app.schedule, app.calendar)}")
    mail = script or arrivals

    def units(app: App, day: date, at: At) -> list[Mail]:
        return mail(app, p.key, day, deadline, at)

    def plan_the_visit(app: App, day: date) -> list[str]:  # HQ plans a visit to 国家电网 with three units
        if script is not None or day != start:
            return []
        return plan_visit(app, Path(__file__).resolve().parents[2] / "config/visit.example.yaml").lines()

    play_days(app, clock, start, end, out, drop=drop,
              morning=[plan_the_visit, *([also.morning] if also else [])],
              arrivals=[units, *([also.arrivals] if also else [])])


def quiet_month(app: App, period: str, day: date, deadline: date, at: At) -> list[Mail]:
    """The month before the demo's November, as the units reported it: four of six on time, SC a day late, XJ
    silent; risks S001 重大 (GD), S002 一般 (GD), S003 一般 (JS), S005 一般 (SX) — November compares with these."""
    n = (day - due.request_date(due.Month.parse(period), app.schedule, app.calendar)).days
    reports = {3: [("GD", ("李明", "liming@gd.example.cn"), GD_EARLIER, ("李明", "020-38886666"))],
               5: [("JS", ("吴昊", "wuhao@js.example.cn"), JS_EARLIER, ("吴昊", "025-84447777"))],
               6: [("BJ", ("孙悦", "sunyue@bj.example.cn"), {"S001": {"1": "执行正常。"}}, ("孙悦", "010-65558888")),
                   ("SX", ("马丽", "mali@sx.example.cn"), SX_EARLIER, ("马丽", "029-88335566"))]}.get(n, [])
    if day == deadline + timedelta(days=1):
        reports = [("SC", ("王静", "wangjing@sc.example.cn"), {"S002": {"1": "执行正常。"}}, ("王静", "028-86661234"))]
    return [(at(day, 10, 12), replies.reply(_request(app, period, unit), sender=sender, at=at(day, 10, 12),
                                            answers=answers, reporter=reporter))
            for unit, sender, answers, reporter in reports]


def arrivals(app: App, period: str, day: date, deadline: date, at: At) -> list[Mail]:
    """What the units send on one day of the simulated month."""
    start = due.request_date(due.Month.parse(period), app.schedule, app.calendar)
    n = (day - start).days
    mail: list[Mail] = []

    def reply(unit: str, sender: tuple[str, str], answers: replies.Answers, reporter: tuple[str, str],
              h: int, **kw: object) -> None:
        when = at(day, h, 12)
        mail.append((when, replies.reply(_request(app, period, unit), sender=sender, at=when, answers=answers,
                                           reporter=reporter, **kw)))  # type: ignore[arg-type]

    if n == 1:  # XJ's contact address no longer exists: the request bounces, XJ's mail goes to its leader
        mail.append((at(day, 9, 20), replies.bounce(_request(app, period, "XJ"), recipient="aili@xj.example.cn",
                                                    at=at(day, 9, 20))))
    if n == 2:  # a newsletter wave: one digest for the operator, not eight mails
        for i in range(8):
            mail.append((at(day, 7, i), replies.build(
                sender=("天然气资讯", f"news{i}@gasnews.example.com"), to=HQ, at=at(day, 7, i),
                subject=f"行业资讯第{i + 1}期：冬季保供形势分析", body="本期要点：……退订请回复TD。")))
    if n == 3:  # GD's contact asks HQ a question: 刘洋, GD's 总部对接人, gets it; no report error for GD
        mail.append((at(day, 10, 30), replies.build(
            sender=("李明", "liming@gd.example.cn"), to=HQ, at=at(day, 10, 30), subject="关于VIP客户填报范围的请示",
            body="刘处长：\nVIP客户中本月已停止用气的，是否还需要填报？\n\n李明\n广东分公司市场部\n电话：020-38886666")))
    if n == 1:  # SC's contact is away: the out-of-office answer must not be answered
        mail.append((at(day, 10, 3), replies.build(
            sender=("王静", "wangjing@sc.example.cn"), to=HQ, at=at(day, 10, 3),
            subject="自动回复: [重点客户月报] 重点客户月报填报", body="您好，我正在休假，11月20日返回，急事请联系028-86661234。",
            extra={"Auto-Submitted": "auto-replied"})))
    if n == 4:
        reply("GD", ("李明", "liming@gd.example.cn"), GD, ("李明", "020-38886666"), 10,
              note="张处长：本月月报已在下方填写，请查收。")
        reply("JS", ("吴昊", "wuhao@js.example.cn"), JS, ("吴昊", "025-84447777"), 15, style="foxmail",
              charset="gb18030", note="已填报，见下文。")
    if n == 5:
        mail.append((at(day, 8, 40), replies.build(
            sender=("马丽", "mali@sx.example.cn"), to=HQ, at=at(day, 8, 40),
            subject="【紧急】延长石油榆林项目供气中断风险",
            body="总部领导：\n今晨接陕西延长石油（集团）有限责任公司通知，其榆林化工项目因上游检修，"
                 "可能于本周五起中断供气三天，影响我方合同供气量约600万方，请总部尽快协调。\n\n马丽\n陕西分公司")))
        reply("BJ", ("孙悦", "sunyue@bj.example.cn"), BJ_BAD, ("孙悦", "010-65558888"), 11)
    if n == 6:
        mail.append((at(day, 9, 5), replies.build(
            sender=("推广", "promo@market.example.com"), to=HQ, at=at(day, 9, 5),
            subject="关于天然气行业年会参会邀请", body="尊敬的客户：诚邀贵单位参加2026天然气行业年会……")))
        reply("BJ", ("孙悦", "sunyue@bj.example.cn"), BJ_GOOD, ("孙悦", "010-65558888"), 16,
              note="已按要求修改，请以此版为准。")
    if n == 6:  # GD's contact thanks HQ in the thread of the acknowledgement: handed over, never "not accepted"
        mail.append((at(day, 9, 40), replies.answer(_sent(app, "ack:").raw, sender=("李明", "liming@gd.example.cn"),
                                                    at=at(day, 9, 40), body="收到，谢谢！")))
    if n == 7:  # SC reports an urgent matter naming the customer the way people do: 大唐 is S007 中国大唐集团
        mail.append((at(day, 15, 10), replies.build(
            sender=("王静", "wangjing@sc.example.cn"), to=HQ, at=at(day, 15, 10), subject="【紧急】大唐电厂供气受限",
            body="大唐那边通知，其所属电厂因设备故障明起停机三天，日用气量减少约80万方。\n\n王静\n四川分公司")))
    if n == 6:  # HQ's 刘洋 takes up GD's request for S001 by replying to the bot's notice
        mail.append((at(day, 11, 0), replies.answer(_request_notice(app, "GD", "S001"),
                                                      sender=("刘洋", "liuyang@hq.example.cn"), at=at(day, 11, 0),
                                                      body="状态：处理中\n已联系国家电网总部计划部。")))
    if n == 8:  # … and answers it: the answer goes to GD's contact
        mail.append((at(day, 16, 30), replies.answer(
            _request_notice(app, "GD", "S001"), sender=("刘洋", "liuyang@hq.example.cn"),
            at=at(day, 16, 30), body="答复：经与国家电网总部协调，2027年冬季调峰气量可增加2000万方，"
                                     "具体由广东分公司与省电网公司签订补充协议。")))
    if n == 8:  # BJ, responsible for the visit's minutes, replies to the summary request with the form filled
        request = _sent(app, "visit:VIS-2026-0001:summary-request").raw
        mail.append((at(day, 14, 0), replies.answer(request, sender=("孙悦", "sunyue@bj.example.cn"), at=at(day, 14, 0),
                                                      body=replies.fill_summary(request, VISIT_SUMMARY))))
    if day == deadline + timedelta(days=1):  # SC replies a day late
        reply("SC", ("王静", "wangjing@sc.example.cn"), SC, ("王静", "028-86661234"), 9, style="foxmail")
    return mail
