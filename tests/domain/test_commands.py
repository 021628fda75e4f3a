"""HQ staff's reply commands: what is understood, what is refused, what becomes a comment."""

from mailbot.domain.commands import Command, parse_commands, status_after


def test_commands_with_both_colons_and_a_multiline_answer() -> None:
    # A typical reply: status, a two-line answer, approval, with half- and full-width colons.
    p = parse_commands("状态:处理中\n答复：已与华润燃气总部沟通，\n同意分期付款。\n需集团审议：是\n\n张伟")
    assert p.commands == (Command("status", "in_progress"),
                          Command("answer", "已与华润燃气总部沟通，\n同意分期付款。"),
                          Command("approval", ""))
    assert p.problems == () and p.comment is None


def test_close_alone_and_transfer() -> None:
    # "关闭" on its own line closes; 转交 names the new assignee.
    p = parse_commands("转交：wangfang@hq.example.cn\n关闭")
    assert p.commands == (Command("transfer", "wangfang@hq.example.cn"), Command("close", ""))


def test_unknown_status_is_a_problem_quoted_back() -> None:
    # A status word outside the list is refused with what was written.
    p = parse_commands("状态：搁置")
    assert p.commands == () and "搁置" in p.problems[0]


def test_no_command_is_a_comment() -> None:
    # Free text with no command is kept as a comment on the request.
    p = parse_commands("已电话联系客户，下周再议。")
    assert p.commands == () and p.comment == "已电话联系客户，下周再议。"


def test_each_command_moves_the_status_as_the_readme_says() -> None:
    assert status_after(Command("status", "in_progress"), "new") == "in_progress"
    assert status_after(Command("approval", ""), "in_progress") == "awaiting_approval"
    assert status_after(Command("answer", "已协调"), "awaiting_approval") == "answered"
    assert status_after(Command("close", ""), "answered") == "closed"
    assert status_after(Command("transfer", "wangfang@hq.example.cn"), "in_progress") == "in_progress"
    assert status_after(Command("note", "内部记录"), "new") == "new"
