"""tl.nn.utils: gradient clipping (implemented in tinygrad_lab/utils_grad.py) and packed
sequences (tl.nn.utils.rnn)."""
from ...utils_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm  # noqa: F401
from . import rnn  # noqa: F401
