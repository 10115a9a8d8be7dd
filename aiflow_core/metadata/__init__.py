"""The original ``ai_flow.metadata`` module paths of the meta classes."""
