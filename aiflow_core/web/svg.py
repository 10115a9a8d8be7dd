"""A workflow's rule graph drawn as SVG on the server: tasks in columns by depth, rules as labelled arrows."""

from __future__ import annotations

from html import escape

from aiflow_core.cli.graph import Graph

CHAR = 7.2
ROW = 64
GAP = 70
PAD = 16
HEIGHT = 32


def _layers(graph: Graph) -> dict[str, int]:
    """Each node's column: the length of the longest path of edges reaching it (cycles cut)."""
    layer = {node: 0 for node in graph.nodes}
    for _ in range(len(graph.nodes)):
        changed = False
        for edge in graph.edges:
            if edge.source != edge.target and layer[edge.target] < layer[edge.source] + 1 <= len(graph.nodes):
                layer[edge.target] = layer[edge.source] + 1
                changed = True
        if not changed:
            break
    return layer


def to_svg(graph: Graph) -> str:
    """The graph as an inline ``<svg>`` element (tasks are boxes, events rounded, arrows carry rule labels)."""
    layer = _layers(graph)
    columns: dict[int, list[str]] = {}
    for node in graph.nodes:
        columns.setdefault(layer[node], []).append(node)
    width_of = {n: max(60.0, len(label) * CHAR + 20) for n, (label, _) in graph.nodes.items()}
    x_of: dict[str, float] = {}
    y_of: dict[str, float] = {}
    x = float(PAD)
    for column in sorted(columns):
        nodes = columns[column]
        widest = max(width_of[n] for n in nodes)
        for row, node in enumerate(nodes):
            x_of[node] = x + (widest - width_of[node]) / 2
            y_of[node] = PAD + row * ROW
        x += widest + GAP + max((len(e.label) for e in graph.edges), default=0) * CHAR * 0.5
    total_w = max((x_of[n] + width_of[n] for n in graph.nodes), default=0) + PAD
    total_h = max((y_of[n] + HEIGHT for n in graph.nodes), default=0) + PAD + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" role="img" '
        f'aria-label="rule graph of {escape(graph.name)}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
        f'width="{total_w:.0f}" height="{total_h:.0f}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>',
    ]
    for edge in graph.edges:
        x1, y1 = x_of[edge.source] + width_of[edge.source], y_of[edge.source] + HEIGHT / 2
        x2, y2 = x_of[edge.target], y_of[edge.target] + HEIGHT / 2
        if edge.source == edge.target or x2 <= x1:  # a loop or an arrow going back: arc over the boxes
            x1, x2 = x_of[edge.source] + width_of[edge.source] / 2, x_of[edge.target] + width_of[edge.target] / 2
            y1, y2 = y_of[edge.source], y_of[edge.target]
            top = min(y1, y2) - 14
            path = f"M {x1:.0f} {y1:.0f} C {x1:.0f} {top:.0f}, {x2 + 30:.0f} {top:.0f}, {x2 + 6:.0f} {y2:.0f}"
            lx, ly = (x1 + x2) / 2 + 15, top + 2
        else:
            mid = (x1 + x2) / 2
            path = f"M {x1:.0f} {y1:.0f} C {mid:.0f} {y1:.0f}, {mid:.0f} {y2:.0f}, {x2:.0f} {y2:.0f}"
            lx, ly = mid, (y1 + y2) / 2 - 4
        parts.append(f'<path d="{path}" class="edge" marker-end="url(#arrow)"/>')
        parts.append(f'<text x="{lx:.0f}" y="{ly:.0f}" class="edge-label">{escape(edge.label)}</text>')
    for node, (label, is_task) in graph.nodes.items():
        radius = 4 if is_task else 16
        kind = "task" if is_task else "event"
        parts.append(
            f'<g class="node {kind}" data-node="{escape(label)}"><rect x="{x_of[node]:.0f}" y="{y_of[node]:.0f}" '
            f'width="{width_of[node]:.0f}" height="{HEIGHT}" rx="{radius}"/>'
            f'<text x="{x_of[node] + width_of[node] / 2:.0f}" y="{y_of[node] + HEIGHT / 2 + 4:.0f}">'
            f"{escape(label)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
