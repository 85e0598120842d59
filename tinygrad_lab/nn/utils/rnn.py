"""tl.nn.utils.rnn: variable-length sequences, as torch.nn.utils.rnn -- pad_sequence,
PackedSequence, pack_padded_sequence, pad_packed_sequence, pack_sequence, unpack_sequence,
unpad_sequence.

A PackedSequence stores the batch time-major without padding: ``data`` holds step 0 of every
sequence, then step 1 of those still running, ... (sequences sorted by decreasing length), and
``batch_sizes[t]`` says how many run at step t. Packing and unpacking are one gather each
(index_select over the flattened (T * B) rows, plus one padding row when unpacking), so their
gradient is the gather's scatter-add; the row numbers are computed from the lengths in Python
(they are sizes, not data)."""
import collections
import numbers

from ... import dtypes
from ...creation import full, tensor
from ...ops.index import index_select
from ...ops.shape import cat, stack
from ...tensor import Tensor

_ENFORCE_SORTED = ("`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                   "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                   "pack_sequence to sidestep this requirement if you do not need ONNX exportability.")


def _invert(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


class PackedSequence(collections.namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices",
                                                                 "unsorted_indices"])):
    """(data, batch_sizes, sorted_indices, unsorted_indices), a named tuple as PyTorch's.
    ``data``: (sum of lengths, *); ``batch_sizes``: int64, one per time step;
    ``sorted_indices``: the batch order data is in (None: the batch was sorted already);
    ``unsorted_indices``: its inverse (computed when only sorted_indices is given). Build one with
    pack_padded_sequence or pack_sequence."""
    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes is required (build it with "
                            "pack_padded_sequence or pack_sequence)")
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = tensor(_invert(sorted_indices.tolist()), dtype=dtypes.int64)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _with_data(self, data):
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def to(self, *args, **kwargs):
        """The same packing with ``data.to(...)`` (the index tensors stay int64)."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._with_data(data)

    def double(self):
        return self.to(dtypes.float64)

    def float(self):
        return self.to(dtypes.float32)

    def cpu(self):
        return self

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


def _lengths_list(lengths, batch):
    """``lengths`` (a list, tuple or 1-D tensor) as Python ints, with PyTorch's checks."""
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                               f"{lengths.ndim}D {lengths.dtype!r} tensor")
        lengths = lengths.tolist()
    else:
        lengths = list(lengths)
    if len(lengths) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lengths)} (batch_size={batch})")
    out = []
    for v in lengths:
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            raise TypeError(f"pack_padded_sequence: lengths must be numbers, got {type(v).__name__}")
        out.append(int(v))
    return out


def _padded_rows(batch_sizes, order, steps, width):
    """For each (t, b) of a (steps, width) padded layout in the original batch order (packed
    column k holds original entry ``order[k]``), the row of packed data holding it, or
    ``pad`` (= len(data), the padding row) where sequence b has no step t."""
    pad = sum(batch_sizes)
    pos = _invert(order)   # packed column of each original batch entry
    rows, starts, start = [], [], 0
    for bs in batch_sizes:
        starts.append(start)
        start += bs
    for t in range(steps):
        for b in range(width):
            k = pos[b]
            rows.append(starts[t] + k if t < len(batch_sizes) and k < batch_sizes[t] else pad)
    return rows


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shapes (L_i, *) into (max L, B, *) (or (B, max L, *) with
    ``batch_first``), filling with ``padding_value`` after each sequence (``padding_side=
    'left'``: before it). Differentiable in every sequence."""
    if isinstance(sequences, Tensor):
        sequences = [sequences[i] for i in range(sequences.shape[0])] if sequences.ndim else [sequences]
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    for s in sequences:
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: sequences must be Tensors, got {type(s).__name__}")
        if s.ndim == 0:
            raise RuntimeError("pad_sequence: every sequence needs at least one dim (its length), "
                               "got a 0-d tensor")
    rest = tuple(sequences[0].shape[1:])
    for s in sequences:
        if tuple(s.shape[1:]) != rest:
            raise RuntimeError(f"pad_sequence: the sequences' trailing dims must match, got shapes "
                               f"{[tuple(q.shape) for q in sequences]}")
    steps = max(s.shape[0] for s in sequences)
    dtype = sequences[0].dtype
    padded = []
    for s in sequences:
        n = steps - s.shape[0]
        if n:
            fill = full((n,) + rest, padding_value, dtype=dtype)
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):  # noqa: A002
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) whose sequence b has
    ``lengths[b]`` valid steps. With ``enforce_sorted`` the lengths must decrease; otherwise the
    batch is sorted here and ``sorted_indices`` records the order."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pack_padded_sequence: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-{max(input.ndim, 1)}, "
                         f"{max(input.ndim, 1) - 1}], but got 1)")
    if input.numel() == 0 and input.shape[0 if not batch_first else 1] == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    lens = _lengths_list(lengths, batch)
    if enforce_sorted:
        if any(lens[i] < lens[i + 1] for i in range(batch - 1)):
            raise RuntimeError(_ENFORCE_SORTED)
        order = None
    else:
        order = sorted(range(batch), key=lambda b: -lens[b])   # stable, as PyTorch's CPU sort
    if min(lens, default=1) <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if max(lens, default=0) > steps:
        raise RuntimeError(f"pack_padded_sequence: a length ({max(lens)}) exceeds the padded "
                           f"input's number of steps ({steps})")
    perm = order if order is not None else list(range(batch))
    sorted_lens = [lens[b] for b in perm]
    batch_sizes = [sum(1 for n in sorted_lens if n > t) for t in range(sorted_lens[0] if batch else 0)]
    # data's rows in the flattened (T * B, *) input: step t of the k-th sequence in packed order
    rows = [(b * steps + t) if batch_first else (t * batch + b)
            for t, bs in enumerate(batch_sizes) for b in perm[:bs]]
    flat = input.reshape((steps * batch,) + tuple(input.shape[2:]))
    data = index_select(flat, 0, tensor(rows, dtype=dtypes.int64))
    sorted_indices = None if order is None else tensor(order, dtype=dtypes.int64)
    return PackedSequence(data, tensor(batch_sizes, dtype=dtypes.int64), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths int64 (B,)),
    in the original batch order; T = the longest length, or ``total_length`` (at least that)."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    batch_sizes = sequence.batch_sizes.tolist()
    max_len = len(batch_sizes)
    steps = max_len
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {max_len}")
        steps = total_length
    width = batch_sizes[0] if batch_sizes else 0
    order = (sequence.sorted_indices.tolist() if sequence.sorted_indices is not None
             else list(range(width)))
    rows = _padded_rows(batch_sizes, order, steps, width)
    data = sequence.data
    rest = tuple(data.shape[1:])
    src = cat([data, full((1,) + rest, padding_value, dtype=data.dtype)], 0)
    out = index_select(src, 0, tensor(rows, dtype=dtypes.int64)).reshape((steps, width) + rest)
    if batch_first:
        out = out.transpose(0, 1)
    sorted_lens = [sum(1 for bs in batch_sizes if bs > k) for k in range(width)]
    lengths = [sorted_lens[k] for k in _invert(order)]
    return out, tensor(lengths, dtype=dtypes.int64)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) tensors (pad_sequence, then pack_padded_sequence)."""
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    lengths = [s.shape[0] if isinstance(s, Tensor) and s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences (L_i, *) from a padded (T, B, *) (or (B, T, *)) batch; views."""
    if not isinstance(padded_sequences, Tensor):
        raise TypeError(f"unpad_sequence: expected a Tensor, got {type(padded_sequences).__name__}")
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    lens = _lengths_list(lengths, x.shape[0])
    for n in lens:
        if not 0 <= n <= x.shape[1]:
            raise RuntimeError(f"unpad_sequence: a length ({n}) is outside [0, {x.shape[1]}]")
    return [x[b, :n] for b, n in enumerate(lens)]


def unpack_sequence(packed_sequences):
    """The list of sequences (L_i, *) in a PackedSequence, in the original batch order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
