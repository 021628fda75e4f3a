"""Mailbox backends behind one small interface (`base.Mailbox`)."""
