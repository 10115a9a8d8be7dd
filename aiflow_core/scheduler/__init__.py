"""The scheduler: a pure decision core (``rules``) and the loop that applies decisions exactly once."""
