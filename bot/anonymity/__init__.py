"""Anonymity primitives: scrubbing, pseudonyms, encryption at rest, receipts, keys, log redaction.

Everything that decides whether a respondent can be identified lives here, small and tested,
so that the rest of the bot only has to call it. See docs/THREAT_MODEL.md.
"""
