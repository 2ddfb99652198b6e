"""The embedded local stack: emulator supervisor, shard-limits proxy and local event-source runtime."""
