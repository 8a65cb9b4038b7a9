"""Dump → zstd → SHA-256 → staged blocks → commit; verify; restore."""
