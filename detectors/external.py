"""External fake sets (``--fakes NAME=folder:PATH`` or ``NAME=npz:PATH``): images from outside the
run, e.g. a diffusion model's samples or an official StyleGAN2 release, added as one more test
generator for every detector. They are resized like the run's data (center crop, bilinear) and
converted to the run's channel count (BT.601 luminance for RGB -> grey, repetition for grey -> RGB).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganbench.data import load_folder, resize_images, to_nchw_uint8
from ganbench.errors import UserError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
RESERVED = {"all", "real", "none"}


@dataclass
class ExternalFakes:
    """An outside set of fakes at the run's size and channel count; ``preparation`` says how they got
    there (their sizes on disk, the side they were resized to, a channel conversion), since the run's
    reals went through neither step."""

    name: str
    source: str
    images: torch.Tensor
    preparation: dict[str, object] = field(default_factory=dict)

    def warning(self) -> str | None:
        """One line where the set was resized or its channels converted, else None."""
        steps = [f"resized from {', '.join(self.preparation['source_sizes'])} to {self.preparation['resized_to']} px"
                 if self.preparation.get("resized_to") else "",
                 f"converted {self.preparation['channels']}" if self.preparation.get("channels") else ""]
        done = " and ".join(step for step in steps if step)
        return (f"--fakes {self.name}: {done}, which the run's reals were not; a detector may score that step "
                "rather than the generator (the records say so)") if done else None

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(str(tuple(self.images.shape)).encode())
        digest.update(self.images.contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]


def parse_fakes_option(option: str) -> tuple[str, str, Path]:
    """``NAME=folder:PATH`` / ``NAME=npz:PATH`` -> (name, kind, path)."""
    name, sep, location = option.partition("=")
    kind, colon, path = location.partition(":")
    if not sep or not colon or kind not in ("folder", "npz") or not path:
        raise UserError(f"--fakes {option!r}: expected NAME=folder:PATH or NAME=npz:PATH")
    if not NAME.match(name) or name in RESERVED:
        raise UserError(f"--fakes {option!r}: {name!r} is not a usable name (letters, digits, _ . + -; "
                        f"not {', '.join(sorted(RESERVED))})")
    return name, kind, Path(path).expanduser()


def check_fakes_options(options: list[str] | tuple[str, ...]) -> None:
    """Refuse, before any work, a ``--fakes`` option that is malformed, names a set twice, or points
    where there is no folder (``folder:``) or file (``npz:``); the images are read when the run needs them."""
    names: set[str] = set()
    for option in options:
        name, kind, path = parse_fakes_option(option)
        if name in names:
            raise UserError(f"--fakes {option!r}: the name {name!r} is given twice")
        names.add(name)
        if kind == "folder" and not path.is_dir():
            raise UserError(f"--fakes {option!r}: " + (f"{path} is a file, not a folder" if path.exists()
                                                       else f"no such folder: {path}"))
        if kind == "npz" and not path.is_file():
            raise UserError(f"--fakes {option!r}: " + (f"{path} is a folder, not an .npz file" if path.exists()
                                                       else f"no such file: {path}"))


def _read_npz(path: Path) -> np.ndarray:
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = [k for k in ("x", "x_train", "x_test", "images") if k in archive.files]
            if not keys:
                raise UserError(f"{path}: no image array (expected x, x_train/x_test or images)")
            arrays = [to_nchw_uint8(archive[k], str(path)) for k in keys if k != "x_test" or "x" not in keys]
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{path}: not a readable .npz file ({exc.__class__.__name__})") from None
    return np.concatenate(arrays)


def match_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    if images.shape[1] == channels:
        return images
    if channels == 1:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).view(1, 3, 1, 1)
        return (images.double() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    return images.expand(-1, channels, -1, -1).contiguous()


def load_external(option: str, resolution: int, channels: int) -> ExternalFakes:
    name, kind, path = parse_fakes_option(option)
    if kind == "folder":
        data = load_folder(path, resolution)
        images = torch.cat([data.x_train, data.x_test])
        sizes = {(int(h), int(w)) for split in data.notes["source_sizes"].values() for h, w in split}
        source_channels = data.channels
    else:
        array = torch.from_numpy(_read_npz(path))
        sizes, source_channels = {tuple(array.shape[-2:])}, array.shape[1]
        images = resize_images(array, resolution)
    preparation: dict[str, object] = {"source_sizes": [f"{h}x{w}" for h, w in sorted(sizes)][:5]}
    if sizes != {(resolution, resolution)}:
        preparation["resized_to"] = resolution
    if source_channels != channels:
        preparation["channels"] = f"{'grey' if source_channels == 1 else 'rgb'}->{'grey' if channels == 1 else 'rgb'}"
    return ExternalFakes(name, f"{kind}:{path}", match_channels(images, channels), preparation)
