"""What a running task sees: its runtime (execution ids, event access) and its output streams."""
