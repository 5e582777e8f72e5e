"""The generator table's detector AUC averages over training cells whose training-set sizes differ by
design (train-on-all rounds its per-generator share down): one table, not one per size. Image-to-image
variants, which translate real test images, get tables of their own, one per task."""

from __future__ import annotations

from ganbench.leaderboards import build_leaderboard
from ganbench.records import Record
from ganbench.store import unit_key

PROTOCOL = {"n_real": 180, "n_fake": 180, "real_split": "test", "n_train_real": 800}


def record(kind: str, generator: str, **fields) -> dict:
    key = unit_key({"kind": kind, "generator": generator, **{k: str(v) for k, v in fields.items()}})
    return Record(kind=kind, key=key, dataset="digits", preset="quick", seed=0, generator=generator, **fields).to_dict()


def test_training_cells_of_other_sizes_share_one_generator_table() -> None:
    records = []
    for generator, fid in (("dcgan", 20.0), ("wgan", 90.0)):
        records.append(record("generation", generator, metrics={"fid": fid}, protocol={"extractor": "classifier"}))
        for train, n_fake, auc in ((generator, 800, 0.9), ("all", 794, 0.7)):
            records.append(record("detection", generator, train_generator=train, detector="spectrum",
                                  perturbation="none", metrics={"auc": auc},
                                  protocol={**PROTOCOL, "n_train_fake": n_fake}))
    boards = build_leaderboard(records).of_kind("generators")
    assert len(boards) == 1
    rows = {r["generator"]: r for r in boards[0].data.to_dict("records")}
    assert rows.keys() == {"dcgan", "wgan"}
    assert rows["dcgan"]["detect_auc_mean"] == 0.8 and rows["dcgan"]["detect_auc_worst"] == 0.7
    assert boards[0].protocols["detection"]["n_train_fake"] == "794–800"


QUALITY = {"extractor": "classifier", "n_real": 360, "n_fake": 2000, "real_split": "test"}


def test_image_to_image_rows_leave_the_noise_table_one_table_per_task() -> None:
    records = []
    for generator, task, task_view, fid, measures in (
            ("dcgan", "noise", None, 20.0, {}), ("wgan", "noise", None, 90.0, {}),
            ("pix2pix", "paired", "edges", 30.0, {"psnr": 16.0, "ssim": 0.8, "l1": 0.1}),
            ("srgan", "paired", "super-resolution", 10.0, {"psnr": 17.5, "ssim": 0.9, "l1": 0.08}),
            ("cyclegan", "unpaired", "two-domain", 5.0, {"domain_acc": 0.7, "cycle_l1": 0.07})):
        protocol = QUALITY if task_view is None else {**QUALITY, "task": task_view, "translated_split": "test"}
        records.append(record("generation", generator, metrics={"fid": fid, **measures}, protocol=protocol))
        records.append(record("train", generator, metrics={"train_seconds": 1.0}, info={"task": task}))
    boards = build_leaderboard(records).of_kind("generators")
    tables = {tuple(b.data.generator): b for b in boards}
    assert set(tables) == {("dcgan", "wgan"), ("pix2pix",), ("srgan",), ("cyclegan",)}
    assert tables[("dcgan", "wgan")].title == "Generators"
    assert {tables[(n,)].title for n in ("pix2pix", "srgan", "cyclegan")} == {"Image-to-image generators"}
    assert tables[("srgan",)].protocols["quality"]["task"] == "super-resolution"
    shown = {c.name for c in tables[("pix2pix",)].columns}
    assert {"psnr", "ssim", "l1"} <= shown and "domain_acc" not in shown
    assert not {"psnr", "domain_acc"} & {c.name for c in tables[("dcgan", "wgan")].columns}


def test_image_to_image_rows_without_a_task_in_their_quality_protocol_still_leave_the_noise_table() -> None:
    records = []
    for generator, task in (("dcgan", "noise"), ("pix2pix", "paired")):
        records.append(record("generation", generator, metrics={"fid": 20.0}, protocol=QUALITY))
        records.append(record("train", generator, metrics={"train_seconds": 1.0}, info={"task": task}))
    boards = build_leaderboard(records).of_kind("generators")
    assert sorted((b.title, tuple(b.data.generator)) for b in boards) == [
        ("Generators", ("dcgan",)), ("Image-to-image generators", ("pix2pix",))]


def test_each_generator_table_gets_its_own_quality_vs_detectability_figure(tmp_path) -> None:
    from ganbench.leaderboards.figures import scatter_figure

    records = []
    for generator, task in (("dcgan", "noise"), ("pix2pix", "paired")):
        records.append(record("generation", generator, metrics={"fid": 20.0}, protocol=QUALITY))
        records.append(record("train", generator, metrics={"train_seconds": 1.0}, info={"task": task}))
        records.append(record("detection", generator, train_generator=generator, detector="spectrum",
                              perturbation="none", metrics={"auc": 0.8}, protocol=PROTOCOL))
    figures = [scatter_figure(b, tmp_path) for b in build_leaderboard(records).of_kind("generators")]
    assert len({f.name for f in figures}) == 2 and len(list(tmp_path.glob("scatter-*.png"))) == 2
    assert sorted(f.title for f in figures) == ["Quality vs detectability",
                                                "Quality vs detectability (image-to-image generators)"]
