"""Image folders: every decoding rule on a file made here, the channel rule, bad files and links."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganbench.data import load_folder
from ganbench.errors import UserError
from ganbench.folders import decode_image, read_folder, scan_folder

RAMP16 = np.array([[0, 128, 129, 385], [386, 32767, 65406, 65535]], dtype=np.uint16)


def pixels(path: Path) -> np.ndarray:
    return decode_image(path).pixels


def keep(array: np.ndarray) -> np.ndarray:
    return array


def grey_folder(root: Path, classes: tuple[str, ...] = ("a", "b"), n: int = 3) -> Path:
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (8, 8), 20 * i + 100 * classes.index(name)).save(root / name / f"{i}.png")
    return root


def test_sixteen_bit_grey_is_scaled_to_eight_bits(tmp_path: Path) -> None:
    expected = ((RAMP16.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)
    little, big = tmp_path / "little.png", tmp_path / "big.tif"
    Image.frombytes("I;16", (4, 2), RAMP16.astype("<u2").tobytes()).save(little)
    Image.frombytes("I;16B", (4, 2), RAMP16.astype(">u2").tobytes()).save(big)
    Image.fromarray(RAMP16.astype(np.int32)).save(tmp_path / "int32.tif")
    assert Image.open(big).mode == "I;16B" and Image.open(tmp_path / "int32.tif").mode == "I"
    for path in (little, big, tmp_path / "int32.tif"):
        decoded = decode_image(path)
        assert decoded.pixels.shape == (1, 2, 4)
        np.testing.assert_array_equal(decoded.pixels[0], expected)
    assert expected.tolist() == [[0, 0, 1, 1], [2, 127, 254, 255]]


def test_float_and_out_of_range_integer_images_are_refused_with_their_names(tmp_path: Path) -> None:
    grey_folder(tmp_path / "set")
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(tmp_path / "set" / "a" / "float.tif")
    with pytest.raises(UserError, match=r"float\.tif.*mode F"):
        read_folder(tmp_path / "set", keep)
    os.remove(tmp_path / "set" / "a" / "float.tif")
    Image.fromarray(np.full((8, 8), 70000, np.int32)).save(tmp_path / "set" / "b" / "deep.tif")
    with pytest.raises(UserError, match=r"deep\.tif.*70000"):
        read_folder(tmp_path / "set", keep)
    os.remove(tmp_path / "set" / "b" / "deep.tif")
    below = np.zeros((8, 8), np.int32)
    below[0, 0] = -5
    Image.fromarray(below).save(tmp_path / "set" / "b" / "negative.tif")
    with pytest.raises(UserError, match=r"negative\.tif.*values -5\.\.0;"):
        read_folder(tmp_path / "set", keep)


def test_palette_alpha_cmyk_and_bilevel_modes(tmp_path: Path) -> None:
    palette = Image.new("P", (2, 1))
    palette.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    palette.putpixel((1, 0), 1)
    palette.save(tmp_path / "p.png")
    palette.save(tmp_path / "p_key.png", transparency=1)
    np.testing.assert_array_equal(pixels(tmp_path / "p.png")[:, 0], [[10, 200], [20, 100], [30, 50]])
    np.testing.assert_array_equal(pixels(tmp_path / "p_key.png")[:, 0], [[10, 0], [20, 0], [30, 0]])

    translucent = Image.new("LA", (2, 1), (200, 128))
    translucent.putpixel((1, 0), (201, 128))
    translucent.save(tmp_path / "la.png")
    assert pixels(tmp_path / "la.png").tolist() == [[[100, 101]]]  # 200 * 128 / 255 = 100.4, 201 * 128 / 255 = 100.9
    Image.new("RGBA", (1, 1), (255, 100, 0, 51)).save(tmp_path / "rgba.png")
    assert pixels(tmp_path / "rgba.png")[:, 0, 0].tolist() == [51, 20, 0]

    Image.new("CMYK", (1, 1), (0, 255, 255, 0)).save(tmp_path / "cmyk.tif")
    assert Image.open(tmp_path / "cmyk.tif").mode == "CMYK"
    assert pixels(tmp_path / "cmyk.tif")[:, 0, 0].tolist() == [255, 0, 0]

    bilevel = Image.new("1", (2, 1), 0)
    bilevel.putpixel((1, 0), 1)
    bilevel.save(tmp_path / "bits.png")
    assert pixels(tmp_path / "bits.png").tolist() == [[[0, 255]]]


def test_a_grey_file_with_a_transparency_key_reads_that_grey_as_black(tmp_path: Path) -> None:
    keyed = Image.new("L", (2, 1), 90)
    keyed.putpixel((1, 0), 200)
    keyed.save(tmp_path / "key.png", transparency=200)
    assert Image.open(tmp_path / "key.png").info["transparency"] == 200
    assert pixels(tmp_path / "key.png").tolist() == [[[90, 0]]]


def test_a_decompression_bomb_is_named_as_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "flat"
    root.mkdir()
    Image.new("L", (64, 64)).save(root / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4096 pixels is past twice the limit
    with pytest.raises(UserError, match=r"huge\.png \(DecompressionBombError"):
        read_folder(root, keep)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    stored = np.zeros((8, 16, 3), np.uint8)
    stored[:, 8:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    upright = pixels(tmp_path / "rotated.jpg")
    assert upright.shape == (3, 16, 8)
    assert upright[:, :6].mean() < 30 and upright[:, 10:].mean() > 225


def test_colour_modes_load_together_and_grey_with_colour_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "colour"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        Image.new("RGB", (8, 8), (9, 9, 9)).save(root / name / "rgb.png")
        Image.new("RGBA", (8, 8), (9, 9, 9, 255)).save(root / name / "rgba.png")
        Image.new("P", (8, 8)).save(root / name / "p.gif")
        Image.new("CMYK", (8, 8)).save(root / name / "cmyk.jpg")
    loaded = read_folder(root, keep)
    assert loaded.channels == 3 and {image.shape for image in loaded.images} == {(3, 8, 8)}
    assert set(loaded.modes) == {"RGB", "RGBA", "P", "CMYK"}

    grey = grey_folder(tmp_path / "grey")
    Image.frombytes("I;16", (8, 8), np.zeros((8, 8), "<u2").tobytes()).save(grey / "a" / "deep.png")
    Image.new("LA", (8, 8)).save(grey / "b" / "alpha.png")
    assert read_folder(grey, keep).channels == 1
    Image.new("P", (8, 8)).save(grey / "b" / "palette.png")
    with pytest.raises(UserError, match="mixed channel.*palette.png is colour"):
        read_folder(grey, keep)


def test_an_undecodable_file_is_named_or_skipped_and_counted(tmp_path: Path) -> None:
    root = grey_folder(tmp_path / "set")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(UserError, match=r"broken\.png.*--skip-bad") as refused:
        read_folder(root, keep)
    assert "\n" not in str(refused.value)
    warnings: list[str] = []
    loaded = read_folder(root, keep, skip_bad=True, warn=warnings.append)
    assert len(loaded.images) == 6 and len(loaded.skipped) == 1
    assert warnings == [warnings[0]] and warnings[0].startswith("skipped 1 ") and "broken.png" in warnings[0]


def test_a_folder_of_only_unreadable_files_is_refused_even_with_skip_bad(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "a.png").write_bytes(b"not a png")
    (root / "b.jpg").write_bytes(b"")
    with pytest.raises(UserError, match="no readable images"):
        read_folder(root, keep, skip_bad=True)


def test_a_missing_path_or_a_file_is_refused_as_the_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such folder"):
        scan_folder(tmp_path / "missing")
    Image.new("L", (8, 8)).save(tmp_path / "x.png")
    with pytest.raises(UserError, match=r"not a folder: .*x\.png"):
        scan_folder(tmp_path / "x.png")


def test_suffixes_are_read_in_any_case_and_other_files_are_not_images(tmp_path: Path) -> None:
    root = grey_folder(tmp_path / "set", n=1)
    Image.new("L", (8, 8), 7).save(root / "a" / "SHOUT.PNG")
    Image.new("L", (8, 8), 7).save(root / "b" / "photo.Jpeg")
    (root / "a" / "README.txt").write_text("notes")
    (root / "b" / "labels.csv").write_text("x,y")
    layout = scan_folder(root)
    assert [f.path.relative_to(root).as_posix() for f in layout.files] == ["a/0.png", "a/SHOUT.PNG", "b/0.png",
                                                                          "b/photo.Jpeg"]
    assert read_folder(root, keep).labels.tolist() == [0, 0, 1, 1]


def test_classes_are_sorted_names_and_files_sorted_paths_without_hidden_folders(tmp_path: Path) -> None:
    """Labels follow the sorted class names and files the sorted paths, whatever order the disk lists them in."""
    root = tmp_path / "set"
    names = ["zebra", "Apple", "mango", "b10", "b2", "kiwi", "fig", "yam"]
    for name in names:
        (root / name / "deeper").mkdir(parents=True)
        (root / name / ".ipynb_checkpoints").mkdir()
        for stem in ("9", "3", "11", "0"):
            Image.new("L", (4, 4), int(stem)).save(root / name / f"{stem}.png")
        Image.new("L", (4, 4)).save(root / name / "deeper" / "5.png")
        Image.new("L", (4, 4)).save(root / name / ".ipynb_checkpoints" / "0-checkpoint.png")
    layout = scan_folder(root)
    assert layout.classes == tuple(sorted(names)) == ("Apple", "b10", "b2", "fig", "kiwi", "mango", "yam", "zebra")
    expected = [(f"{name}/{stem}.png", label) for label, name in enumerate(sorted(names))
                for stem in ("0", "11", "3", "9", "deeper/5")]
    assert [(f.path.relative_to(root).as_posix(), f.label) for f in layout.files] == expected


def test_a_flat_folder_is_one_class_and_a_broken_link_in_it_is_unreadable(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    root.mkdir()
    for stem in ("2", "0", "1"):
        Image.new("L", (8, 8), int(stem)).save(root / f"{stem}.png")
    (root / "gone.png").symlink_to(tmp_path / "nowhere.png")
    layout = scan_folder(root)
    assert layout.classes == ("flat",) and {f.label for f in layout.files} == {0}
    assert [f.path.name for f in layout.files] == ["0.png", "1.png", "2.png", "gone.png"]
    with pytest.raises(UserError, match=r"gone\.png"):
        read_folder(root, keep)
    assert len(read_folder(root, keep, skip_bad=True).images) == 3


def test_a_link_to_the_folder_itself_is_refused(tmp_path: Path) -> None:
    root = grey_folder(tmp_path / "set")
    (root / "zz").symlink_to(root.resolve(), target_is_directory=True)
    with pytest.raises(UserError, match="'zz'.*data set folder itself"):
        scan_folder(root)


def test_class_folders_that_are_one_folder_are_refused(tmp_path: Path) -> None:
    root = grey_folder(tmp_path / "set")
    (root / "c").symlink_to(root / "a", target_is_directory=True)
    with pytest.raises(UserError, match="'a' and 'c' are the same folder"):
        scan_folder(root)


def test_a_file_reached_twice_counts_once_and_two_classes_are_refused(tmp_path: Path) -> None:
    root = grey_folder(tmp_path / "set")
    (root / "a" / "again.png").symlink_to(root / "a" / "0.png")
    (root / "a" / "nested").mkdir()
    (root / "a" / "nested" / "0.png").symlink_to(root / "a" / "0.png")
    layout = scan_folder(root)
    assert len(layout.files) == 6 and layout.repeated == 2
    assert [f.label for f in layout.files] == [0, 0, 0, 1, 1, 1]
    (root / "b" / "stolen.png").symlink_to(root / "a" / "1.png")
    with pytest.raises(UserError, match=r"stolen\.png is the same file as a/1\.png"):
        scan_folder(root)


def test_link_loops_end(tmp_path: Path) -> None:
    root = grey_folder(tmp_path / "set")
    (root / "a" / "loop").symlink_to(root / "a", target_is_directory=True)
    (root / "a" / "sub").mkdir()
    (root / "a" / "sub" / "up").symlink_to(root / "a", target_is_directory=True)
    layout = scan_folder(root)
    assert len(layout.files) == 6 and layout.repeated == 0
    (root / "b" / "to_root").symlink_to(root, target_is_directory=True)
    with pytest.raises(UserError, match="same file"):
        scan_folder(root)


def test_outside_links_hidden_names_and_files_beside_classes(tmp_path: Path) -> None:
    outside = grey_folder(tmp_path / "elsewhere", classes=("x",), n=2)
    root = grey_folder(tmp_path / "set")
    (root / "c").symlink_to(outside / "x", target_is_directory=True)
    (root / ".ipynb_checkpoints").mkdir()
    Image.new("L", (8, 8)).save(root / ".ipynb_checkpoints" / "0.png")
    Image.new("L", (8, 8)).save(root / "a" / ".hidden.png")
    Image.new("L", (8, 8)).save(root / "stray.png")
    (root / "b" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(UserError, match=r"gone\.png"):
        read_folder(root, keep)
    warnings: list[str] = []
    loaded = read_folder(root, keep, skip_bad=True, warn=warnings.append)
    assert loaded.layout.classes == ("a", "b", "c") and loaded.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    assert any("1 image file(s) directly in" in w for w in warnings)


def test_load_folder_keeps_source_sizes_per_split(tmp_path: Path) -> None:
    root = tmp_path / "sizes"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (10 + i, 12 + i), 40 * i).save(root / name / f"{i}.png")
    data = load_folder(root, 8)
    sizes = data.notes["source_sizes"]
    assert data.x_train.shape[1:] == (1, 8, 8) and len(sizes["train"]) == len(data.x_train)
    assert sorted(map(tuple, np.concatenate([sizes["train"], sizes["test"]]).tolist())) == sorted(
        [(12 + i, 10 + i) for i in range(5)] * 2)
    assert data.notes["skipped_files"] == 0 and data.notes["repeated_files"] == 0


def test_a_single_image_is_refused_with_its_numbers(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "one" / "x.png")
    with pytest.raises(UserError, match="1 image.* too few to split"):
        load_folder(tmp_path / "one", 8)
