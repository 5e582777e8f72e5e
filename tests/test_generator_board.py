"""The generator table's detector AUC averages over training cells whose training-set sizes differ by
design (train-on-all rounds its per-generator share down): one table, not one per size."""

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
    assert "n_train_fake" not in boards[0].protocols["detection"]
