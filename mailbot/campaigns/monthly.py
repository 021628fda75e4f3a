"""Campaign feedback riding in a monthly report — the cadence "with the monthly request" (CAMPAIGN.md
"Follow-up"): the reports capability's `Rider` for the 【推广反馈】 forms a unit filled above its monthly form.

One reply, both records, one answer:
- checked with the report: a block's mistakes (a stage that is not one of the seven, 无意向 without a reason, a
  customer not in the directory), a form under another unit's or an unknown 编号, are listed in the report's one
  error reply after the report's own, named as that reply names them (customer and field), and the form is quoted
  back above the monthly form with the wrong answers marked; nothing of either is recorded until both are right;
- the blocks answer items (1) and (2) of FORM.md for those customers: for each strategic customer of the report
  the unit reported on, item 1 (全国性天然气产品及服务方案执行情况) gets the plan with the stage, this period's
  progress, the next steps and the expected signing, item 2 (对全国性产品或服务的反馈意见与建议) the customer's
  cooperation intention — after anything the unit wrote there itself, so the monthly record, the bulletin and the
  archive read them as the report's own answers. VIP blocks have no such items: the campaign keeps theirs;
- recorded as the campaign's feedback (`recording.record_blocks`: stage changes, 诉求, added targets), its round
  the report's month, and shown in the report's acknowledgement, one section per campaign;
- a closed campaign records nothing and the acknowledgement says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from parsers import ParsedMessage, Problem
from parsers.campaign import CampaignFeedback as ParsedFeedback
from parsers.campaigntext import LABEL_TOKEN, LABELS

from mailbot.campaigns.recording import empty_block, feedback_problems, record_blocks, round_for
from mailbot.campaigns.store import NOT_STARTED, current_stage, customer_of, find_campaign, target_for
from mailbot.db.models import Campaign, InboundMessage, Period, Submission, Unit
from mailbot.pipeline.context import Ctx


class MonthlyFeedback:
    """The campaign feedback forms of one monthly report (`reports.inbound.Rider`)."""

    def __init__(self, ctx: Ctx, msg: InboundMessage, p: ParsedMessage, unit: Unit) -> None:
        self.ctx, self.msg, self.unit = ctx, msg, unit
        self.forms = [(fb, find_campaign(ctx.s, fb.campaign) if fb.campaign else None) for fb in p.campaigns]

    def problems(self) -> list[tuple[str, str, Sequence[Problem]]]:
        return [(f"推广反馈表 {fb.token}" if fb.token else "推广反馈表", fb.text, self._check(fb, campaign))
                for fb, campaign in self.forms]

    def _check(self, fb: ParsedFeedback, campaign: Campaign | None) -> list[Problem]:
        if campaign is None:
            return list(fb.errors) or [Problem(LABEL_TOKEN, f"推广反馈表的编号“{fb.token or '（无）'}”不是总部发出的"
                                                            "全国性产品及服务方案编号，请勿修改编号")]
        if fb.unit != self.unit.code:
            return [Problem(LABEL_TOKEN, f"推广反馈表编号 {fb.token} 属于另一所属单位，请填写月度报送通知中"
                                         f"{self.unit.name}的推广反馈表")]
        if campaign.status == "closed":
            return []   # nothing will be recorded: the acknowledgement says so, no correction can change it
        return feedback_problems(self.ctx, fb)

    def _recordable(self) -> list[tuple[ParsedFeedback, Campaign]]:
        return [(fb, c) for fb, c in self.forms if c is not None and c.status == "open"]

    def fill(self, p: ParsedMessage) -> ParsedMessage:
        strategic = {b.customer for b in p.strategic}
        added: dict[str, dict[str, list[str]]] = {}
        for fb, campaign in self._recordable():
            for block in fb.targets:
                if block.customer not in strategic or empty_block(block):
                    continue
                customer = customer_of(self.ctx.s, block.customer)
                target = target_for(self.ctx.s, campaign, customer, self.unit) if customer else None
                before = current_stage(target) if target is not None else NOT_STARTED
                items = added.setdefault(block.customer, {"1": [], "2": []})
                items["1"].append(_item_1(campaign, block.stage, before, block.progress, block.next,
                                          block.signing_text))
                if block.intention:
                    items["2"].append(f"推广方案 {campaign.number} {campaign.title}：{LABELS['intention']}："
                                      f"{_clean(block.intention)}")
        if not added:
            return p
        blocks = []
        for b in p.strategic:
            ours = added.get(b.customer)
            if ours:
                filled: dict[str, str | None] = dict(b.items)
                for key, lines in ours.items():
                    filled[key] = "\n".join(x for x in (filled.get(key), *lines) if x) or None
                b = dataclasses.replace(b, items=filled)
            blocks.append(b)
        return dataclasses.replace(p, strategic=tuple(blocks))

    def record(self, period: Period, sub: Submission) -> Sequence[Mapping[str, object]]:
        sections: list[Mapping[str, object]] = []
        for fb, campaign in self.forms:
            assert campaign is not None   # problems() refused the others
            section: dict[str, object] = {"number": campaign.number, "title": campaign.title, "token": fb.token,
                                          "closed": campaign.status != "open", "version": None, "rows": [],
                                          "unchanged": 0, "warnings": []}
            if campaign.status == "open":
                done = record_blocks(self.ctx, self.msg, campaign, self.unit, fb,
                                     round_for(self.ctx, campaign, self.msg, period.key))
                section.update(version=done.version, rows=done.rows, unchanged=done.unchanged,
                               warnings=done.warnings)
            sections.append(section)
        return sections


def _clean(text: str) -> str:
    return text.strip().rstrip("。；;")


def _item_1(campaign: Campaign, stage: str | None, before: str, progress: str | None, nxt: str | None,
            signing: str | None) -> str:
    """Item 1 of the monthly form from one block: the plan, where the customer stands, what happened, what next."""
    if stage is not None and stage != before:
        where = f"{before} → {stage}"
    else:
        where = f"{stage or before}（未变）"
    parts = [f"{LABELS['stage']}：{where}"]
    parts += [f"{LABELS[key]}：{_clean(value)}" for key, value in (("progress", progress), ("next", nxt),
                                                                     ("signing", signing)) if value]
    return f"推广方案 {campaign.number} {campaign.title}：" + "；".join(parts)
