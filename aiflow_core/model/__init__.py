"""The model: workflows, operators, rules, conditions, state and events.

Pure data and rules, no I/O. Everything a scheduler decides is computed from
these classes plus a view of the stored executions.
"""
