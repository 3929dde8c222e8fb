"""The web channel: a WeChat-style chat page on the conversation core, for any phone
browser, reached from a link or QR code, with no account, no cookie and no address kept."""
