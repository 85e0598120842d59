"""tl.nn: layers (Module, Linear, Sequential, activations, normalisation, Embedding, Dropout,
losses), functional ops (tl.nn.functional, "F"), initialisers (tl.nn.init) and utilities
(tl.nn.utils)."""
from . import functional, init, utils
from .modules import (BatchNorm1d, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding,
                      GELU, LayerNorm, LeakyReLU, Linear, Module, MSELoss, NLLLoss, Parameter, ReLU,
                      Sequential, Sigmoid, Tanh)
