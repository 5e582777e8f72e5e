"""probe: Ojha, Li & Lee, "Towards Universal Fake Image Detectors that Generalize Across
Generative Models", CVPR 2023.

Real/fake detection without learning a fake-specific feature space: images pass through a
*frozen* pretrained backbone and only a logistic regression on its features is trained. The
paper's backbone is CLIP ViT-L/14; the ``backbone`` option chooses:

* ``"classifier"`` (default, offline): the run's reference feature extractor
  (:class:`ganbench.features.ClassifierExtractor`, a CNN trained on the real train split), which
  the runner hands over through the constructor's ``extractor`` argument;
* ``"timm:<model>"``: a timm model with pretrained weights from ``$GANBENCH_WEIGHTS`` or the hub
  cache (e.g. ``timm:vit_large_patch14_clip_224.openai``); images are resized to its input size;
* an ``nn.Module`` mapping ``[-1, 1]`` float images to features.

The backbone's parameters are set to ``requires_grad=False`` and it runs in eval mode, so fitting
the probe can never change it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from ganbench.detectors import DETECTORS
from ganbench.pretrained_weights import local_weights
from ganbench.detectors.linear_state import load_pipeline_state, pipeline_state
from ganbench.errors import UserError


@dataclass(frozen=True)
class ProbeConfig:
    C: float = 1.0
    max_iter: int = 3000
    batch_size: int = 256


def freeze(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def _module_features(module: nn.Module, device: torch.device, batch_size: int,
                     prepare: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], np.ndarray]:
    freeze(module.to(device))

    @torch.inference_mode()
    def features(images: torch.Tensor) -> np.ndarray:
        out = [module(prepare(chunk).to(device)).flatten(1).double().cpu() for chunk in images.split(batch_size)]
        return torch.cat(out).numpy()

    return features


def timm_backbone(spec: str) -> tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]]:
    """A frozen pretrained timm feature model and its input transform (resize, 3 channels, normalize)."""
    import timm

    name = spec.removeprefix("timm:")
    if not timm.is_model(name.split(".")[0]):
        raise UserError(f"unknown timm model {name!r} for the probe backbone")
    path = local_weights(name)
    if path is None:
        raise UserError(f"probe backbone {name}: no pretrained weights in $GANBENCH_WEIGHTS or the hub cache "
                        "(a frozen random backbone is not a probe); use backbone='classifier' offline")
    model = timm.create_model(name, pretrained=True, num_classes=0, pretrained_cfg_overlay={"file": str(path)})
    cfg = model.pretrained_cfg
    size = cfg["input_size"][-2:]
    mean, std = torch.tensor(cfg["mean"]).view(1, 3, 1, 1), torch.tensor(cfg["std"]).view(1, 3, 1, 1)

    def prepare(images: torch.Tensor) -> torch.Tensor:
        x = images.float().div(255).expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp(0, 1)
        return (x - mean) / std

    return model, prepare


@DETECTORS.register
class ProbeDetector:
    name = "probe"
    paper = "Ojha et al., Towards Universal Fake Image Detectors that Generalize Across Generative Models"
    year = 2023
    outputs_probability = True

    def __init__(self, seed: int = 0, device: torch.device | str | None = None, extractor: Any = None,
                 backbone: str | nn.Module = "classifier", config: ProbeConfig = ProbeConfig()) -> None:
        self.config = config
        self.device = torch.device(device or "cpu")
        self.backbone_name = backbone if isinstance(backbone, str) else type(backbone).__name__
        self.frozen: nn.Module | None = None
        if isinstance(backbone, nn.Module):
            self.frozen = backbone
            self.features = _module_features(backbone, self.device, config.batch_size,
                                             lambda x: x.float().div(127.5).sub(1))
        elif backbone == "classifier":
            if extractor is None:
                raise UserError("probe: backbone 'classifier' needs the run's reference classifier (extractor=...)")
            model = getattr(extractor, "model", None)
            if isinstance(model, nn.Module):
                self.frozen = freeze(model)
            self.features = lambda images: extractor.extract(images).features.double().numpy()
        elif backbone.startswith("timm:"):
            model, prepare = timm_backbone(backbone)
            self.frozen = model
            self.features = _module_features(model, self.device, config.batch_size, prepare)
        else:
            raise UserError(f"probe: unknown backbone {backbone!r} (classifier, timm:<model> or an nn.Module)")
        self.model = make_pipeline(StandardScaler(),
                                   LogisticRegression(C=config.C, max_iter=config.max_iter, random_state=seed))

    @classmethod
    def weights_files(cls, arguments: dict[str, Any]) -> list[Path]:
        """A ``timm:`` backbone's local weights file (the ``classifier`` backbone is keyed by the run)."""
        backbone = arguments.get("backbone", "classifier")
        if not isinstance(backbone, str) or not backbone.startswith("timm:"):
            return []
        path = local_weights(backbone.removeprefix("timm:"))
        return [] if path is None else [path]

    def fit(self, real: torch.Tensor, fake: torch.Tensor) -> None:
        features = np.concatenate([self.features(real), self.features(fake)])
        labels = np.concatenate([np.zeros(len(real)), np.ones(len(fake))])
        self.model.fit(features, labels)

    def score(self, images: torch.Tensor) -> np.ndarray:
        return self.model.predict_proba(self.features(images))[:, 1]

    def describe(self) -> dict[str, Any]:
        return {"backbone": self.backbone_name, "frozen": True}

    def state(self) -> dict[str, np.ndarray]:
        """The logistic-regression head; only a ``timm:`` backbone, rebuilt from the constructor
        argument and its local weights, can come back with it."""
        if not self.backbone_name.startswith("timm:"):
            raise UserError(f"probe: a probe over backbone {self.backbone_name!r} cannot be saved "
                            "(only backbone=timm:<model> can be rebuilt from its weights)")
        return pipeline_state(self.model)

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        load_pipeline_state(self.model, state)
