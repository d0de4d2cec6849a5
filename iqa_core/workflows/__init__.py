"""Workflows over the core: batch (local threads or Ray Data), uploads (safe zip and size checks), compare and explore."""
