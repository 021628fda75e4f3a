"""What the IMAP and SMTP backends share on the network side: OAuth2 tokens and the loopback test for plain text.
"""
