"""tl.nn: neural-network building blocks. ``tl.nn.functional`` (F) holds the stateless
layers, activations and losses."""
from . import functional
