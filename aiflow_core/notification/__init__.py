"""Sending and listening to events from inside tasks."""
