"""tl.utils.data: datasets, samplers and the DataLoader that batches them (torch.utils.data).

    ds = TensorDataset(X, y)
    for xb, yb in DataLoader(ds, batch_size=32, shuffle=True):
        ...

Loading runs in the calling process (``num_workers`` is accepted and ignored). Shuffling draws
its permutation with ``tl.randperm``: from the global generator (reproducible under
``tl.manual_seed``) or from ``generator`` -- a ``tl.Generator`` or an int seed.
"""
import collections.abc
import copy
import itertools
import math
import numbers
import operator

import numpy as np

from .. import distributed as dist
from .. import dtypes
from ..creation import Generator, _uniforms, randperm, tensor
from ..ops.shape import stack
from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Sampler", "SequentialSampler", "RandomSampler",
           "DistributedSampler", "BatchSampler", "DataLoader", "default_collate", "default_convert"]


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------

class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(i)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Sample ``i`` is ``tuple(t[i] for t in tensors)``; every tensor has the same first dim."""

    def __init__(self, *tensors):
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset expects Tensors, got {type(t).__name__}")
            if t.ndim == 0:
                raise IndexError("TensorDataset: a 0-d tensor has no first dimension to index")
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            # AssertionError, as PyTorch's ``assert ..., "Size mismatch between tensors"``
            raise AssertionError(f"Size mismatch between tensors: first dims "
                                 f"{[t.shape[0] for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0] if self.tensors else 0


# ---------------------------------------------------------------------------------------------
# Samplers: which indices, in which order
# ---------------------------------------------------------------------------------------------

class Sampler:
    """Base class: an iterable of dataset indices."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _as_generator(generator):
    """None, a tl.Generator, or an int seed (made into a tl.Generator once, so successive
    epochs draw different, reproducible permutations)."""
    if generator is None or isinstance(generator, Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return Generator().manual_seed(int(generator))
    raise TypeError(f"generator must be a tl.Generator or an int seed, got "
                    f"{type(generator).__name__}")


class RandomSampler(Sampler):
    """The indices in a random order (a fresh permutation per pass), or with ``replacement``
    ``num_samples`` independent uniform draws."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = _as_generator(generator)
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, k = len(self.data_source), self.num_samples
        if self.replacement:
            # uniform draws u in [0, 1) -> floor(u * n), from the same source as randperm's
            draws = _uniforms(k, self.generator, "RandomSampler")
            return iter([min(int(u * n), n - 1) for u in draws])
        perms = [randperm(n, generator=self.generator).tolist() for _ in range(-(-k // n))]
        return itertools.islice(itertools.chain.from_iterable(perms), k)

    def __len__(self):
        return self.num_samples


class DistributedSampler(Sampler):
    """This rank's share of the dataset's indices, for data-parallel training (PyTorch's
    DistributedSampler): rank r takes every ``num_replicas``-th index starting at r, so the
    ranks' shares are disjoint and of equal length ``num_samples``. When the length does not
    divide, the list is padded with its own first indices (``drop_last=False``) or its tail is
    dropped (``drop_last=True``).

    ``shuffle=True`` permutes the indices first, with a generator seeded ``seed + epoch``: every
    rank draws the same permutation, and calling ``set_epoch(e)`` before each epoch gives a new
    one. With ``shuffle=False`` the index lists are exactly PyTorch's; shuffled ones are a
    permutation from ``tl.randperm`` (tl's generator, not PyTorch's Philox/MT stream), so they
    differ from PyTorch's for the same seed while having the same properties.

    ``num_replicas`` and ``rank`` default to tl.distributed's world size and rank."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: pass num_replicas and rank, or call "
                                   "tl.distributed.init_process_group() first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"num_replicas should be a positive integer, got {num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            g = Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use permutation number ``epoch`` (call before each epoch when shuffling)."""
        self.epoch = epoch


class BatchSampler(Sampler):
    """Groups a sampler's indices into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size


# ---------------------------------------------------------------------------------------------
# Collation: a list of samples -> one batch
# ---------------------------------------------------------------------------------------------

_COLLATE_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                "lists; found {}")


def default_collate(batch):
    """PyTorch's default_collate: tensors are stacked along a new dim 0; NumPy arrays and
    scalars become tensors first; Python floats give a float64 tensor, ints int64, bools bool;
    strings stay a list; dicts, namedtuples and sequences are collated field by field (a tuple
    sample gives a list of batches, as in PyTorch)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "SUOV":
            raise TypeError(_COLLATE_ERR.format(elem.dtype))
        return stack([tensor(b) for b in batch], 0)
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "SUOV":
            raise TypeError(_COLLATE_ERR.format(elem.dtype))
        return tensor(np.array(batch))   # keeps the scalars' dtype
    if isinstance(elem, float):
        return tensor(batch, dtype=dtypes.float64)
    if isinstance(elem, numbers.Integral):   # int and bool
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            out = copy.copy(elem)
            out.update(fields)
            return out
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):   # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(b) != size for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        if isinstance(elem, collections.abc.MutableSequence):
            out = copy.copy(elem)
            out[:] = columns
            return out
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(_COLLATE_ERR.format(type(elem)))


def default_convert(data):
    """What the DataLoader applies to each sample when ``batch_size=None``: NumPy arrays and
    scalars become tensors, containers are converted element by element, the rest is kept."""
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind not in "SUOV":
        return tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()}) \
            if isinstance(data, dict) else {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


# ---------------------------------------------------------------------------------------------
# DataLoader
# ---------------------------------------------------------------------------------------------

class DataLoader:
    """Iterates over ``dataset`` in batches: ``len(loader)`` batches per pass, each the
    ``collate_fn`` (default: ``default_collate``) of ``batch_size`` samples. ``shuffle=True``
    draws a new permutation every pass (see the module docstring for where it comes from);
    ``drop_last`` drops a last, short batch; ``batch_size=None`` yields single samples.
    ``sampler`` / ``batch_sampler`` replace the index order as in PyTorch. Loading runs in the
    calling process: ``num_workers`` and ``pin_memory`` are accepted for compatibility."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        self.generator = _as_generator(generator)
        if sampler is None:
            sampler = RandomSampler(dataset, generator=self.generator) if shuffle \
                else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.pin_memory = num_workers, pin_memory
        self._auto_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn

    def __iter__(self):
        if self.batch_sampler is None:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        fast = self._auto_collate and type(self.dataset) is TensorDataset
        for indices in self.batch_sampler:
            if fast:   # one gather per tensor: the same values as stacking the samples
                key = tensor([operator.index(i) for i in indices])
                yield [t[key] for t in self.dataset.tensors]
            else:
                yield self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self):
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)
