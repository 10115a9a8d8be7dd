"""The operations of :class:`~aiflow_core.client.Client`, grouped by what they act on."""
