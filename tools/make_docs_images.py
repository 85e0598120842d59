"""Regenerate the pictures README.md's "Seeing the gradients" section shows (docs/*.png):

    python tools/make_docs_images.py

- docs/viz_graph.png: tl.viz.draw_graph of one training step of a small MLP, after backward
  (ops with the bytes they saved for backward, parameters by name, every gradient norm);
- docs/viz_grad_flow.png: tl.viz.grad_flow charts of a deep sigmoid network, whose first layers'
  gradients vanish, next to the same depth with ReLU and He initialisation.

Needs Graphviz's `dot` and matplotlib. Everything is seeded, so reruns draw the same pictures.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import tinygrad_lab as tl  # noqa: E402
from tinygrad_lab import nn  # noqa: E402
from tinygrad_lab.nn import functional as F  # noqa: E402

DOCS = os.path.join(ROOT, "docs")


def graph_of_one_step(path):
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3))
    x = tl.randn(32, 2)
    y = tl.randint(0, 3, (32,))
    loss = F.cross_entropy(model(x), y)
    tl.viz.retain_grads(loss)              # keep every tensor's gradient for the drawing
    loss.backward()
    graph = tl.viz.draw_graph(loss, params=dict(model.named_parameters()))
    graph.save(path)
    return graph


def deep(act, depth=12, width=16, seed=0):
    tl.manual_seed(seed)
    layers = []
    for i in range(depth):
        layers.append(nn.Linear(2 if i == 0 else width, width))
        if act is nn.ReLU:
            nn.init.kaiming_normal_(layers[-1].weight, nonlinearity="relu")
        layers.append(act())
    return nn.Sequential(*layers, nn.Linear(width, 1))


def grad_flow_chart(path):
    tl.manual_seed(1)
    x = tl.randn(64, 2)
    y = (x[:, :1] * x[:, 1:] > 0).float()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, act, title in ((axes[0], nn.Sigmoid, "12 sigmoid layers: the first ones vanish"),
                           (axes[1], nn.ReLU, "12 ReLU layers, He init: gradients flow")):
        model = deep(act)
        F.binary_cross_entropy_with_logits(model(x), y).backward()
        report = tl.viz.grad_flow(model, vanishing=1e-6)
        print(title)
        print(report)
        report.plot(ax=ax)
        ax.set_title(title)
        # weights only on the axis: 26 parameters' names would crowd it
        ax.set_xticklabels([r["name"] if r["name"].endswith("weight") else ""
                            for r in report.rows], rotation=60, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    os.makedirs(DOCS, exist_ok=True)
    g = graph_of_one_step(os.path.join(DOCS, "viz_graph.png"))
    print(f"docs/viz_graph.png: {g.num_nodes} nodes")
    grad_flow_chart(os.path.join(DOCS, "viz_grad_flow.png"))
    print("docs/viz_grad_flow.png written")
