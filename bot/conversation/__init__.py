"""The cadre's conversation, channel-neutral: events in, effects out (no chat framework here).

`model` holds the events, effects and screen data; `core.Conversation` the flow (and
`restore` the drafts cancelled a moment ago, kept a minute in memory);
`screens` and `followup_screens` what the cadre reads; `ports` what the core asks of the
services below it; `feature.build_conversation` builds it for a process. Telegram is the
first channel (`handlers.respondent`, `handlers.followup`, `handlers.conversation_bridge`,
`handlers.telegram_render`).
"""
