"""Data-parallel training under torchrun: two CPU processes on gloo, one tiny DCGAN.

Run as a script (``python -m torch.distributed.run ... tests/test_distributed.py OUT DUMP``) this
module is the worker: it checks gradient averaging on a toy model, then runs ``ganbench train``
with a tiny preset and dumps each rank's final generator outside the run store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ganbench.generators.distributed import World  # noqa: E402
from ganbench.presets import Preset  # noqa: E402

#: what a rank's C++ runtime prints when gloo's threads are torn down unjoined at interpreter exit
TEARDOWN_ABORT = "terminate called without an active exception"
TEARDOWN_ATTEMPTS = 4

# digits at their native 8 px on the 16 px model canvas, as the presets train them
TINY = Preset("tiny-ddp", steps=12, batch_size=16, width=8,
              checkpoint_every=5, n_eval=100, n_detector_train=60, n_detector_test=40,
              detector_epochs=1, classifier_epochs=1)


def worker(out: Path, dump: Path) -> None:
    import ganbench.generation as generation
    import ganbench.ranks as ranks
    from ganbench.cli import app
    from ganbench.presets import PRESETS
    from ganbench.generators import distributed

    PRESETS.register(TINY)
    world, _ = distributed.init("cpu")
    toy = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(toy.weight)
    opt = torch.optim.SGD(toy.parameters(), lr=1.0)
    world.average_gradients({"toy": opt})
    toy.weight.grad = torch.full_like(toy.weight, float(world.rank + 1))
    opt.step()
    (dump / f"toy{world.rank}.json").write_text(json.dumps(toy.weight.tolist()))

    original = generation.train

    def train_and_dump(model, *args, **kwargs):
        outcome = original(model, *args, **kwargs)
        torch.save({k: v.clone() for k, v in model.state_dict().items()}, dump / f"rank{world.rank}.pt")
        return outcome

    generation.train = ranks.train = train_and_dump
    app(["train", "dcgan", "--preset", TINY.name, "--out", str(out), "--device", "cpu", "--quiet"],
        standalone_mode=False)


def test_two_processes_train_in_step_and_only_rank_zero_writes(tmp_path: Path):
    from ganbench.context import RunConfig, build_generator, run_data, training_config
    from ganbench.generation import training_inputs
    from ganbench.store import RunStore
    from ganbench.generators.trainer import train

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for attempt in range(TEARDOWN_ATTEMPTS):
        out, dump = tmp_path / f"run{attempt}", tmp_path / f"dump{attempt}"
        dump.mkdir()
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                               "--log-dir", str(tmp_path / f"elastic{attempt}"),
                               str(Path(__file__)), str(out), str(dump)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        # gloo's threads can, rarely, abort a rank as its interpreter exits after the run has finished and
        # left the group (about one full test run in eight saw it, twice in a row once, beside the other
        # tests); such an attempt is repeated from scratch, so only a failure that keeps coming fails
        if done.returncode == 0 or TEARDOWN_ABORT not in done.stderr:
            break
    assert done.returncode == 0, done.stderr[-3000:]

    # gradients are averaged across ranks before the step: 0 - lr * mean(1, 2)
    assert json.loads((dump / "toy0.json").read_text()) == [[-1.5, -1.5]]
    assert json.loads((dump / "toy1.json").read_text()) == [[-1.5, -1.5]]

    # both replicas end identical, parameters and BatchNorm statistics alike
    rank0, rank1 = torch.load(dump / "rank0.pt"), torch.load(dump / "rank1.pt")
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        torch.testing.assert_close(rank0[name], rank1[name], rtol=0, atol=0)

    # rank 0 alone wrote the unit records and the checkpoint; no lock is left behind
    kinds = sorted(p.name.split("-")[0] for p in (out / "records").glob("*.json"))
    assert kinds == ["generation", "sample", "train"]
    records = {r.kind: r for r in RunStore(out).records()}
    assert all(r.status == "ok" for r in records.values()) and records["train"].metrics["steps"] == TINY.steps
    assert not list((out / "locks").iterdir())
    (checkpoint,) = (out / "checkpoints").glob("dcgan-*.pt")
    state = RunStore.load_checkpoint(checkpoint)
    for name, value in state["model"].items():
        torch.testing.assert_close(value, rank0[name], rtol=0, atol=0)
    first, second = (r["batches"]["order"] for r in state["ranks"])
    assert len(state["ranks"]) == 2 and not torch.equal(first, second)

    # rank 1 drew other batches, so two processes do not reproduce the one-process result
    config = RunConfig(suite="dcgan", preset=TINY, out=tmp_path / "single")
    data, spec = run_data(config)
    single = build_generator(config, spec, "dcgan")
    x, y, _ = training_inputs(single, data, lambda: None)
    train(single, x, y, training_config(config))
    weight = "G.net.0.weight"
    assert not torch.allclose(single.state_dict()[weight], rank0[weight])


def collectives(rank: int, size: int, init_file: str, dump: str, opt: torch.optim.SGD) -> None:
    """Worker of the collectives test: every ``World`` collective fed rank-dependent inputs, and a step
    of ``opt`` (its own copy in each forked process) on rank-dependent gradients; what this rank ends
    with is saved to ``dump/rank<r>.pt``."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=size)
    world = World(rank, size)
    try:
        torch.manual_seed(rank)
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
        model[1].running_mean.fill_(rank + 1.0)
        world.broadcast(model)
        broadcast = {k: v.clone() for k, v in model.state_dict().items()}
        model[1].running_var.fill_(rank + 5.0)
        model[0].bias.data.fill_(float(rank))
        world.sync_buffers(model)
        synced = {k: v.clone() for k, v in model.state_dict().items()}

        (small, wide), (other, unused) = (group["params"] for group in opt.param_groups)
        world.average_gradients({"opt": opt})
        small.grad = torch.tensor([1.0, 2.0]) * (rank + 1)
        wide.grad = torch.tensor([[3.0], [4.0], [5.0]]) * (rank + 1)
        other.grad = torch.tensor([6.0]) * (rank + 1)
        opt.step()
        stepped = [p.detach().clone() for p in (small, wide, other, unused)]

        torch.save({"broadcast": broadcast, "synced": synced, "stepped": stepped,
                    "shared": world.share(f"from rank {rank}"), "gathered": world.gather(10 * rank),
                    "any": [world.any(rank == size - 1, torch.device("cpu")), world.any(False, torch.device("cpu"))]},
                   Path(dump) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_collectives_give_every_rank_rank_zeros_state_and_the_mean_gradient(tmp_path: Path):
    """Two gloo processes: parameters and buffers broadcast from rank 0, BatchNorm statistics synced
    from rank 0 (parameters untouched), every parameter group's gradients averaged before the step
    (0 - lr * mean(1, 2) * g), rank 0's object shared, objects gathered in rank order, and a flag
    raised on one rank seen on all."""
    parameters = [torch.nn.Parameter(torch.zeros(shape)) for shape in ((2,), (3, 1), (1,), (2,))]
    opt = torch.optim.SGD([{"params": parameters[:2]}, {"params": parameters[2:]}], lr=1.0)
    torch.multiprocessing.start_processes(collectives, args=(2, str(tmp_path / "init"), str(tmp_path), opt),
                                          nprocs=2, start_method="fork")
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for name, value in ranks[0]["broadcast"].items():
        torch.testing.assert_close(ranks[1]["broadcast"][name], value, rtol=0, atol=0)
    assert torch.equal(ranks[0]["broadcast"]["1.running_mean"], torch.ones(4))
    for rank, seen in enumerate(ranks):
        assert torch.equal(seen["synced"]["1.running_var"], torch.full((4,), 5.0))
        assert torch.equal(seen["synced"]["0.bias"], torch.full((4,), float(rank)))
        expected = [-1.5 * torch.tensor([1.0, 2.0]), -1.5 * torch.tensor([[3.0], [4.0], [5.0]]),
                    -1.5 * torch.tensor([6.0]), torch.zeros(2)]
        for got, want in zip(seen["stepped"], expected):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
        assert seen["shared"] == "from rank 0" and seen["gathered"] == [0, 10] and seen["any"] == [True, False]


def test_rank_zero_draws_with_the_run_seed_and_every_other_rank_with_its_own() -> None:
    seeds = [World(rank, 3).seed(7) for rank in range(3)]
    assert seeds[0] == World().seed(7) == 7 and len(set(seeds)) == 3
    assert World(1, 3).seed(8) != seeds[1]


def test_compiled_networks_keep_their_state_dict_keys(image_spec):
    from ganbench.generators import create_generator
    from ganbench.generators.trainer import compile_networks

    model = create_generator("dcgan", image_spec, preset_width=8)
    keys = list(model.state_dict())
    compile_networks(model)
    assert list(model.state_dict()) == keys
    assert all(network._compiled_call_impl is not None for network in model.children())


def test_run_refuses_torchrun_and_points_to_shards(cli, monkeypatch, tmp_path: Path):
    from ganbench.cli import app

    monkeypatch.setenv("WORLD_SIZE", "2")
    result = cli.invoke(app, ["run", "--suite", "smoke", "--preset", "smoke", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--shard" in result.output


if __name__ == "__main__":
    worker(Path(sys.argv[1]), Path(sys.argv[2]))
