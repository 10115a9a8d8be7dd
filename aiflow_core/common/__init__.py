"""Small helpers that AIFlow's samples import from ``ai_flow.common`` (renamed ``aiflow_core.common``)."""
