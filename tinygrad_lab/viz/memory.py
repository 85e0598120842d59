"""memory_report: the bytes the graph behind a tensor keeps alive for its backward -- per node
and in total (lesson 003's space complexity; tl.utils.checkpoint shrinks it)."""
from ._common import fmt_bytes
from .graph import saved_tensors, tensor_bytes, walk

__all__ = ["memory_report", "MemoryReport"]


def _key(t):
    """Tensors that read the same memory the same way count once (one activation saved by two
    nodes, or saved twice by one)."""
    return (t.data_ptr(), t.shape, t.stride(), t.dtype.name)


class MemoryReport:
    """``rows``: one dict per node of the graph, in creation order -- ``op`` (its
    ``grad_fn.name()``), ``bytes`` (the tensors it saved for backward), ``saved`` (their shapes);
    ``total_bytes``: the distinct saved tensors' bytes (a tensor several nodes saved counts once,
    so it can be less than the rows' sum); ``freed``: nodes whose saved tensors a backward
    already freed (they count 0). ``str(report)`` is a table."""

    def __init__(self, rows, total_bytes, freed):
        self.rows, self.total_bytes, self.freed = rows, total_bytes, freed

    def __str__(self):
        w = max([len(r["op"]) for r in self.rows] + [2])
        lines = [f"{'#':>4}  {'op':<{w}}  {'saved for backward':>18}  shapes"]
        for i, r in enumerate(self.rows):
            shapes = ", ".join("x".join(map(str, s)) or "scalar" for s in r["saved"])
            lines.append(f"{i:>4}  {r['op']:<{w}}  {fmt_bytes(r['bytes']):>18}  {shapes}")
        lines.append(f"total: {fmt_bytes(self.total_bytes)} kept for backward by "
                     f"{len(self.rows)} nodes (each saved tensor counted once)")
        if self.freed:
            lines.append(f"({self.freed} nodes already freed theirs in a backward: they count 0)")
        return "\n".join(lines)

    def __repr__(self):
        return f"<tl.viz.MemoryReport: {len(self.rows)} nodes, {fmt_bytes(self.total_bytes)}>"


def memory_report(root):
    """What the graph behind ``root`` keeps for backward: a :class:`MemoryReport`. Call it
    before ``backward()`` (which frees the saved tensors, unless ``retain_graph=True``)."""
    nodes = walk(root)[0]
    rows, seen, total, freed = [], set(), 0, 0
    for node in nodes:
        saved = saved_tensors(node)
        if saved is None:
            freed += 1
            saved = []
        for t in saved:
            k = _key(t)
            if k not in seen:
                seen.add(k)
                total += tensor_bytes(t)
        rows.append({"op": node.name(), "bytes": sum(tensor_bytes(t) for t in saved),
                     "saved": [t.shape for t in saved]})
    return MemoryReport(rows, total, freed)
