"""Drawing a workflow's tasks and rules as a Mermaid flowchart or a Graphviz DOT digraph.

Tasks are boxes; an edge from task A to task B says "when A reaches a status,
take an action on B"; events that drive rules are rounded nodes of their own.
"""

from __future__ import annotations

from typing import Any

import attrs

from aiflow_core.model.internal.conditions import TaskStatusCondition, leaf_conditions


@attrs.frozen(kw_only=True)
class Edge:
    """One arrow: from a node to a task, labelled with what makes it fire."""

    source: str
    target: str
    label: str


@attrs.frozen(kw_only=True)
class Graph:
    """Nodes (id -> (label, is_task)) and edges of a workflow."""

    name: str
    nodes: dict[str, tuple[str, bool]]
    edges: list[Edge]


def build_graph(workflow: Any) -> Graph:
    """Collect the nodes and edges of ``workflow`` (a :class:`~aiflow_core.model.workflow.Workflow`)."""
    nodes: dict[str, tuple[str, bool]] = {}
    ids: dict[str, str] = {}

    def node(label: str, is_task: bool) -> str:
        key = ("t:" if is_task else "e:") + label
        if key not in ids:
            ids[key] = f"{'t' if is_task else 'e'}{len(ids)}"
            nodes[ids[key]] = (label, is_task)
        return ids[key]

    for name, task in workflow.tasks.items():
        periodic = getattr(getattr(task, "config", None), "periodic_expression", None)
        node(name, True)
        if periodic:
            nodes[ids["t:" + name]] = (f"{name} (periodic {periodic})", True)
    edges: list[Edge] = []
    for name, rules in workflow.rules.items():
        target = node(name, True)
        for index, rule in enumerate(rules):
            action = getattr(rule.action, "value", str(rule.action))
            for leaf in leaf_conditions(rule.condition):
                if isinstance(leaf, TaskStatusCondition):
                    foreign = leaf.workflow_name != workflow.name
                    label = f"{leaf.workflow_name}.{leaf.task_name}" if foreign else leaf.task_name
                    source = node(label, not foreign)
                    edges.append(
                        Edge(source=source, target=target, label=f"#{index} {leaf.expect_status.value}: {action}")
                    )
                    continue
                for key in leaf.expect_event_keys:
                    edges.append(Edge(source=node(f"event {key}", False), target=target, label=f"#{index} {action}"))
    return Graph(name=workflow.name, nodes=nodes, edges=edges)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_mermaid(graph: Graph) -> str:
    """Render ``graph`` as a Mermaid flowchart."""
    lines = ["flowchart LR"]
    for node_id, (label, is_task) in graph.nodes.items():
        text = label.replace('"', "#quot;")
        lines.append(f'    {node_id}["{text}"]' if is_task else f'    {node_id}(["{text}"])')
    for edge in graph.edges:
        lines.append(f'    {edge.source} -->|"{edge.label.replace(chr(34), "#quot;")}"| {edge.target}')
    return "\n".join(lines)


def to_dot(graph: Graph) -> str:
    """Render ``graph`` as a Graphviz DOT digraph."""
    lines = [f'digraph "{_quote(graph.name)}" {{', "    rankdir=LR;"]
    for node_id, (label, is_task) in graph.nodes.items():
        shape = "box" if is_task else "ellipse"
        lines.append(f'    {node_id} [label="{_quote(label)}", shape={shape}];')
    for edge in graph.edges:
        lines.append(f'    {edge.source} -> {edge.target} [label="{_quote(edge.label)}"];')
    lines.append("}")
    return "\n".join(lines)
