"""The units' maintenance evaluation (维护工作评估, §4.1 b): how well each 所属单位 looked after its key customers
over a quarter, a year or a month, computed from what the database already holds — nothing is stored for it.

    store.py     reads each unit's records of the period (reports, error replies, 诉求, follow-ups, survey answers)
    records.py   those records as plain values
    measures.py  the arithmetic: each measure, its 0–100 score, the weighted total, the rank, the change
    report.py    the terminal table, `--explain` and `--json`
    mails.py     each 单位负责人's mail (its own unit only) and the 部门负责人's table
    schedule.py  `run_due`: the closed quarter's (and year's) mail, when `evaluation.schedule` is on
    chapter.py   the bulletin's chapter for months that close a quarter
    commands.py  `mailbot evaluate`

Every figure is traceable: a measure carries the records it was computed from, and a unit without data for a
measure gets None ("—"), which leaves its score rather than counting as zero.
"""
