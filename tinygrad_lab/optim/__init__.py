"""tl.optim: optimizers with PyTorch's update formulas (each update one fused C kernel,
csrc/optim.c) and learning-rate schedulers (tl.optim.lr_scheduler)."""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer, required
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler", "required"]
