"""Which segments refer to which (the `segment` field of a rule): refresh order and cycles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter

from members.models import Community

from . import rules
from .models import Segment

# segment id -> ids of the segments its rule refers to
Graph = dict[int, set[int]]


def dependency_graph(community: Community) -> Graph:
    """Every segment of the community with the segments its rule refers to (manual: none)."""
    graph: Graph = {}
    for segment_id, kind, rule in Segment.objects.for_community(community).values_list(
        "pk", "kind", "rule"
    ):
        graph[segment_id] = _references(rule) if kind == "smart" else set()
    return graph


def _references(rule: object) -> set[int]:
    try:
        return rules.segments_used(rules.parse(rule))
    except rules.RuleError:
        return set()  # an invalid stored rule is reported by its refresh, not here


def find_cycle(
    graph: Mapping[int, set[int]], segment_id: int, references: Iterable[int]
) -> list[int]:
    """The cycle `segment_id` would close by referring to `references`, as a path, or []."""
    proposed = {**graph, segment_id: set(references)}
    path: list[int] = []
    seen: set[int] = set()

    def visit(node: int) -> bool:
        if node == segment_id and path:
            return True
        if node in seen:
            return False
        seen.add(node)
        path.append(node)
        for nxt in sorted(proposed.get(node, ())):
            if visit(nxt):
                return True
        path.pop()
        return False

    return [*path, segment_id] if visit(segment_id) else []


def refresh_order(graph: Mapping[int, set[int]]) -> tuple[list[int], list[int]]:
    """(segment ids with every referenced segment before its referrers, ids caught in cycles).

    Saving rejects cycles, but a rule edited in the admin could still make one; those
    segments are left out of the order so the others still refresh.
    """
    known = {node: {dep for dep in deps if dep in graph} for node, deps in graph.items()}
    stuck: list[int] = []
    while True:
        try:
            order = list(TopologicalSorter(known).static_order())
        except CycleError as error:
            cycle = set(error.args[1])
            stuck.extend(sorted(cycle))
            known = {n: deps - cycle for n, deps in known.items() if n not in cycle}
            continue
        return order, stuck


def dependents(graph: Mapping[int, set[int]], segment_id: int) -> list[int]:
    """The segments whose rules refer to `segment_id`, directly or not, in refresh order."""
    found: set[int] = set()
    frontier = {segment_id}
    while frontier:
        frontier = {node for node, deps in graph.items() if deps & frontier} - found - {segment_id}
        found |= frontier
    order, _ = refresh_order(graph)
    return [node for node in order if node in found]
