"""Built-in conditions and the keys of internal events."""
