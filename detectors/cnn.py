"""CNN detectors from timm with a binary head, trained with Blur+JPEG augmentation.

* ``cnn-resnet50``: Wang et al., "CNN-generated images are surprisingly easy to spot... for now",
  CVPR 2020 (ResNet-50, Blur+JPEG (0.5), Adam 1e-4, batch 64).
* ``xception``: the FaceForensics++ baseline, Rossler et al., "FaceForensics++: Learning to
  Detect Manipulated Facial Images", ICCV 2019 (Chollet's Xception, timm ``legacy_xception``).
* ``efficientnet``: the DFDC baseline family, Dolhansky et al., "The DeepFake Detection
  Challenge (DFDC) Dataset", 2020 (timm ``efficientnet_b0``).

Images are used at the run's resolution (no up-sampling to 224). Weights (``weights=``):
``auto`` (default) loads ImageNet weights from a local file (``$GANBENCH_WEIGHTS/<timm name>``
with suffix ``.safetensors``, ``.pth``, ``.pt`` or ``.bin``) or from the timm/Hugging Face or
torch-hub cache when present, and otherwise trains from scratch; ``scratch`` always trains from
scratch; ``hub`` downloads (one-line error offline); any other value is a weights file. The
record's ``info.detector.weights`` says which was used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganbench.detectors import DETECTORS
from ganbench.detectors.training import CNNDetector, TrainerConfig, images_to_unit
from ganbench.detectors.augment import BlurJpegConfig
from ganbench.errors import UserError
from ganbench.pretrained_weights import local_weights, require_download


def create_timm(model_name: str, channels: int, weights: str) -> tuple[nn.Module, str]:
    """A timm model with one output logit and ``channels`` input channels, and where its weights came from."""
    import timm

    common: dict[str, Any] = {"num_classes": 1, "in_chans": channels}
    if weights == "scratch":
        return timm.create_model(model_name, pretrained=False, **common), "scratch"
    if weights == "hub":
        require_download(model_name, "use weights='auto' or a local file via $GANBENCH_WEIGHTS")
        try:
            return timm.create_model(model_name, pretrained=True, **common), "imagenet (hub)"
        except Exception as exc:
            raise UserError(f"cannot download pretrained weights for {model_name} ({exc.__class__.__name__}); "
                            "use weights='auto' or a local file via $GANBENCH_WEIGHTS") from None
    path = local_weights(model_name) if weights == "auto" else Path(weights).expanduser()
    if path is None:
        return timm.create_model(model_name, pretrained=False, **common), "scratch"
    if not path.is_file():
        raise UserError(f"no such weights file: {path}")
    try:
        model = timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **common)
    except Exception as exc:
        raise UserError(f"{path}: cannot load as {model_name} weights ({exc.__class__.__name__})") from None
    return model, f"imagenet ({path.name})"


class TimmDetector(CNNDetector):
    """A timm classifier with a one-logit head; ``model_name`` picks the architecture."""

    model_name = "resnet50"
    trainer = TrainerConfig(lr=1e-4, augment=BlurJpegConfig())

    def __init__(self, seed: int = 0, epochs: int | None = None, device: torch.device | str | None = None,
                 augment: bool | None = None, weights: str = "auto") -> None:
        super().__init__(seed=seed, epochs=epochs, device=device, augment=augment)
        self.weights = weights
        self.weights_used: str | None = None
        self.mean = torch.zeros(1)
        self.std = torch.ones(1)

    @classmethod
    def weights_files(cls, arguments: dict[str, Any]) -> list[Path]:
        """The local weights file ``weights`` resolves to, if any (none for scratch or hub)."""
        weights = str(arguments.get("weights", "auto"))
        if weights in ("scratch", "hub"):
            return []
        path = local_weights(cls.model_name) if weights == "auto" else Path(weights).expanduser()
        return [] if path is None else [path]

    def build(self, channels: int, height: int, width: int) -> nn.Module:
        model, self.weights_used = create_timm(self.model_name, channels, self.weights)
        if self.weights_used == "scratch":
            mean, std = (0.5,) * 3, (0.5,) * 3
        else:
            mean, std = model.pretrained_cfg["mean"], model.pretrained_cfg["std"]
        mean_t, std_t = torch.tensor(mean), torch.tensor(std)
        if channels == 1:
            mean_t, std_t = mean_t.mean(0, keepdim=True), std_t.mean(0, keepdim=True)
        self.mean, self.std = mean_t.view(1, -1, 1, 1), std_t.view(1, -1, 1, 1)
        return model

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return (images_to_unit(images) - self.mean) / self.std

    def describe(self) -> dict[str, Any]:
        return {"timm_model": self.model_name, "weights": self.weights_used or self.weights, **super().describe()}

    def state(self) -> dict[str, torch.Tensor]:
        return {**super().state(), "mean": self.mean, "std": self.std}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        """The saved network, built without looking for pretrained weights, and its input normalization."""
        self.weights = "scratch"
        super().load_state(state)
        mean, std = torch.as_tensor(state["mean"]).float(), torch.as_tensor(state["std"]).float()
        expected = (1, self.input_shape[0], 1, 1)
        if mean.shape != expected or std.shape != expected or not bool((std > 0).all()):
            raise ValueError(f"input normalization of shape {tuple(mean.shape)} / {tuple(std.shape)}, "
                             f"expected {expected} with positive std")
        self.mean, self.std = mean, std
        self.weights_used = "saved detector"


@DETECTORS.register
class ResNet50Detector(TimmDetector):
    name = "cnn-resnet50"
    paper = "Wang et al., CNN-generated images are surprisingly easy to spot... for now"
    year = 2020
    model_name = "resnet50"


@DETECTORS.register
class XceptionDetector(TimmDetector):
    name = "xception"
    paper = "Rossler et al., FaceForensics++ (Xception baseline)"
    year = 2019
    model_name = "legacy_xception"


@DETECTORS.register
class EfficientNetDetector(TimmDetector):
    name = "efficientnet"
    paper = "Dolhansky et al., The DeepFake Detection Challenge Dataset (EfficientNet baseline)"
    year = 2020
    model_name = "efficientnet_b0"
