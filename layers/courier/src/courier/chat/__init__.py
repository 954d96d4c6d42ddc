"""The chat channel: WebSocket frames and events, room tokens, and the `chat` CLI."""
