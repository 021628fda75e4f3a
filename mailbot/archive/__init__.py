"""The customer archive (客户档案, §7.1.4 and §7.2.3): every report item, request, visit and follow-up on one
customer's timeline, as text or a PDF dossier (`mailbot customer S001 [--pdf]`).
"""
