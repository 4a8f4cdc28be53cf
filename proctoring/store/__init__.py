"""Redis as this project keeps it: the process's clients (threaded and asyncio, per shard),
every key name this project writes, the Lua scripts and the registry that loads and calls
them, and the one door to RQ's private API.

May import `core` only."""
