"""tl.nn: layers (Module with forward/backward hooks, Linear, Sequential, ModuleList, ModuleDict,
Identity, Flatten, activations, Softmax, normalisation, Embedding, Dropout, losses), functional
ops (tl.nn.functional, "F"), initialisers (tl.nn.init) and utilities (tl.nn.utils)."""
from . import functional, init, utils
from .modules import (BatchNorm1d, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding,
                      Flatten, GELU, Identity, LayerNorm, LeakyReLU, Linear, LogSoftmax, Module,
                      ModuleDict, ModuleList, MSELoss, NLLLoss, Parameter, ReLU, Sequential,
                      Sigmoid, Softmax, Tanh)
