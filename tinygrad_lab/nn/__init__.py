"""tl.nn: layers (Module with forward/backward hooks, Linear, Sequential, ModuleList, ModuleDict,
ParameterList, ParameterDict, Identity, Flatten, Unflatten, padding layers, activations, Softmax,
normalisation (RMSNorm and LocalResponseNorm too), Embedding, EmbeddingBag, Dropout (and
Dropout1d/2d/3d, AlphaDropout, FeatureAlphaDropout), Bilinear, Fold/Unfold, LPPool, losses (CTCLoss
too), recurrent layers RNN/LSTM/GRU and their cells, attention and transformer layers), functional
ops (tl.nn.functional, "F"), initialisers (tl.nn.init), utilities (tl.nn.utils) and data-parallel
training (tl.nn.parallel.DistributedDataParallel)."""
from . import functional, init, parallel, utils
from .modules import (AvgPool2d, BatchNorm1d, BatchNorm2d, BCELoss, BCEWithLogitsLoss,
                      CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d,
                      ConstantPad3d, Conv1d, Conv2d, CrossEntropyLoss, Dropout, ELU, Embedding,
                      Flatten, GELU, Hardtanh, HuberLoss, Identity, L1Loss, LayerNorm, LeakyReLU,
                      Linear, LogSigmoid, LogSoftmax, MaxPool2d, Mish, Module, ModuleDict,
                      ModuleList, MSELoss, NLLLoss, Parameter, ParameterDict, ParameterList,
                      ReflectionPad1d, ReflectionPad2d, ReflectionPad3d, ReLU, ReplicationPad1d,
                      ReplicationPad2d, ReplicationPad3d, SELU, Sequential, Sigmoid, SiLU,
                      SmoothL1Loss, Softmax, Softplus, Softsign, Tanh, Unflatten, ZeroPad1d,
                      ZeroPad2d, ZeroPad3d)
from .modules import ConvTranspose1d, ConvTranspose2d
from .modules import (AdaptiveAvgPool3d, AdaptiveMaxPool3d, AvgPool3d, BatchNorm3d, Conv3d,
                      ConvTranspose3d, MaxPool3d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d)
from .modules import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d,
                      AvgPool1d, MaxPool1d)
from .modules import PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .modules import (CELU, GLU, Hardshrink, Hardsigmoid, Hardswish, ReLU6, Softmin, Softshrink,
                      Tanhshrink, Threshold)
from .modules import (CosineSimilarity, GroupNorm, InstanceNorm1d, InstanceNorm2d,
                      PairwiseDistance)
from .modules import (CosineEmbeddingLoss, GaussianNLLLoss, HingeEmbeddingLoss, KLDivLoss,
                      MarginRankingLoss, MultiLabelSoftMarginLoss, MultiMarginLoss,
                      PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss)
from .modules import MultiheadAttention
from .modules import (AlphaDropout, Bilinear, ChannelShuffle, CTCLoss, Dropout1d, Dropout2d,
                      Dropout3d, EmbeddingBag, FeatureAlphaDropout, Fold, LocalResponseNorm,
                      LPPool1d, LPPool2d, MultiLabelMarginLoss, RMSNorm, RReLU, Softmax2d, Unfold)
from .rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)
from .modules import PReLU
