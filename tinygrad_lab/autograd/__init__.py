"""tl.autograd: the engine (graph nodes, backward, grad, grad mode, anomaly detection, custom
Functions) and the tools that check it (gradcheck, gradgradcheck).

    engine.py     Context (a graph node), Function, backward(), grad(), no_grad, hooks
    gradcheck.py  gradcheck / gradgradcheck: autograd against central differences
"""
from .engine import (OPS, AccumulateGrad, Context, Function, RemovableHandle, backward_all,
                     detect_anomaly, enable_grad, grad, inference_mode, is_anomaly_enabled,
                     is_grad_enabled, no_grad, set_detect_anomaly, set_grad_enabled)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

backward = backward_all   # a tensor or a sequence of them, as torch.autograd.backward

__all__ = ["OPS", "AccumulateGrad", "inference_mode", "Context", "Function", "RemovableHandle", "backward", "detect_anomaly",
           "enable_grad", "grad", "is_anomaly_enabled", "is_grad_enabled", "no_grad",
           "set_detect_anomaly", "set_grad_enabled", "GradcheckError", "gradcheck",
           "gradgradcheck"]
