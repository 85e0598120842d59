"""tl.viz: see the gradients -- the graph behind a tensor drawn with what each node saved and
each tensor's gradient (draw_graph), per-parameter gradient statistics with vanishing/exploding
flags (grad_flow, GradMonitor over training), the memory backward keeps (memory_report), and
the loss around the current parameters (loss_landscape).

DOT text and every number need nothing beyond tinygrad_lab; rendering a graph needs Graphviz's
``dot`` program, charts need matplotlib (``pip install "tinygrad_lab[viz]"``)."""
from .flow import GradFlowReport, GradMonitor, grad_flow
from .graph import Graph, GraphvizNotFoundError, draw_graph, retain_grads
from .landscape import Landscape, filter_normalized_direction, loss_landscape
from .memory import MemoryReport, memory_report

__all__ = ["Graph", "GraphvizNotFoundError", "draw_graph", "retain_grads", "grad_flow",
           "GradFlowReport", "GradMonitor", "memory_report", "MemoryReport", "loss_landscape",
           "Landscape", "filter_normalized_direction"]
