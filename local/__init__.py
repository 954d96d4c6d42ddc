"""The local runtime: the whole system on one machine (MiniStack, redis-server), and its demo."""
