"""Trainer: learning, exact resumption, DDP == one process, checkpoints, export, distill CLI."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import ase.io
import pytest
import torch
from ase.build import bulk

from pair_student.cli import main as cli_main
from pair_student.contract import evaluate, load_student, read_metadata
from pair_student.graph import atoms_to_graph
from pair_student.models import build_student
from pair_student.export import export
from pair_student.models.repulsion import core_windows, shortest_distances
from pair_student.models.checkpoint import CheckpointMismatchError, load_checkpoint_model, load_state, read_checkpoint
from pair_student.training import TrainConfig, train
from pair_student.training.data import collate, frames_to_graphs, read_frames
from pair_student.training.trainer import batch_loss, cosine_lr, counts_of, early_stopping_armed

HERE = Path(__file__).parent
SMALL_MODEL = {"channels": 6, "radial_hidden": 12, "hidden": 16, "readout_layers": 2, "lmax": 2}


def _cfg(dataset, out, **kw):
    base = dict(dataset=str(dataset), out=str(out), name="t", preset=None, cutoff=4.0, model_kwargs=SMALL_MODEL,
                epochs=4, batch_size=2, lr=5e-3, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def test_student_overfits_a_few_frames(dataset, tmp_path):
    summary = train(_cfg(dataset, tmp_path, epochs=60, ema_decay=0.0, patience=1000, lr=1e-2))
    history = json.loads((tmp_path / "t_summary.json").read_text())["history"]
    losses = [h["train_loss"] for h in history]
    assert losses[-1] < 0.2 * losses[0]
    assert summary["metrics"]["force_r2"] > 0.8  # held-out EMT frames after seconds of training


def test_resumed_run_equals_uninterrupted(dataset, tmp_path):
    train(_cfg(dataset, tmp_path / "a"))
    train(_cfg(dataset, tmp_path / "b", stop_after=2))
    assert read_checkpoint(tmp_path / "b" / "t_checkpoint.pt")["train_state"]["epoch"] == 2
    train(_cfg(dataset, tmp_path / "b"))
    a, b = read_checkpoint(tmp_path / "a" / "t_checkpoint.pt"), read_checkpoint(tmp_path / "b" / "t_checkpoint.pt")
    for key in ("train_state_dict", "ema_state_dict", "state_dict"):
        for name, value in a[key].items():
            assert torch.equal(value, b[key][name]), (key, name)
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"]


def test_ddp_two_processes_match_one(dataset, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(HERE.parents[1] / "python"), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29617",
           str(HERE / "ddp_worker.py"), str(dataset), str(tmp_path)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # one process, whole batch, same initial weights
    torch.manual_seed(0)
    graphs = frames_to_graphs(read_frames(dataset, "train"), 4.0, ["Al", "Cu"], dtype=torch.float64)
    model = build_student({"architecture": "local", "elements": ["Al", "Cu"], "cutoff": 4.0,
                           "channels": 6, "radial_hidden": 12, "hidden": 16}).double()
    loss, _ = batch_loss(model, collate(graphs), TrainConfig(dataset="", out=""), counts_of(graphs), 1)
    loss.backward()
    ddp = torch.load(tmp_path / "ddp_grads.pt")
    for name, p in model.named_parameters():
        torch.testing.assert_close(ddp[name], p.grad, rtol=1e-10, atol=1e-12)
    # the trainer under torchrun follows the single-process trajectory (float32 rounding aside)
    train(_cfg(dataset, tmp_path / "single", name="ddp", epochs=2, batch_size=4, lr=3e-3))
    d, s = read_checkpoint(tmp_path / "ddp_checkpoint.pt"), read_checkpoint(tmp_path / "single" / "ddp_checkpoint.pt")
    for name, value in s["train_state_dict"].items():
        torch.testing.assert_close(d["train_state_dict"][name], value, rtol=1e-3, atol=1e-4)


def test_checkpoint_prefixes_and_mismatch(dataset, tmp_path):
    train(_cfg(dataset, tmp_path, epochs=1))
    ckpt = read_checkpoint(tmp_path / "t_checkpoint.pt")
    model = build_student(ckpt["model_config"])
    for prefix in ("module.", "model.", "module.model."):
        load_state(model, {prefix + k: v for k, v in ckpt["state_dict"].items()})
    state = dict(ckpt["state_dict"])
    state["extra.weight"] = state.pop("readout_out.weight")
    with pytest.raises(CheckpointMismatchError, match=r"missing keys \['readout_out.weight'\].*unexpected keys \['extra.weight'\]"):
        load_state(model, state)
    other = build_student({**ckpt["model_config"], "channels": 7})
    with pytest.raises(CheckpointMismatchError, match="shape mismatch"):
        load_state(other, ckpt["state_dict"])


def test_checkpoint_carries_provenance_to_the_exported_file(dataset, tmp_path):
    summary = train(_cfg(dataset, tmp_path, epochs=2, name="tiny", seed=3))
    assert summary["checkpoint"] == str(tmp_path / "tiny_checkpoint.pt")
    assert not list(tmp_path.glob("*.pt"))[1:], "training ends at its checkpoint"
    path = export(summary["checkpoint"], out=tmp_path / "tiny_model_traced.pt")
    meta = read_metadata(path)
    assert meta["elements"] == ["Al", "Cu"] and meta["cutoff"] == 4.0 and meta["num_layers"] == 1
    assert meta["dtype"] == "float64"
    prov = meta["provenance"]
    assert prov["teacher"] == "emt" and prov["seed"] == 3 and "force_r2" in prov["metrics"] and prov["command"]
    assert prov["dataset_sha256"] == hashlib.sha256(Path(dataset).read_bytes()).hexdigest()
    model, metadata = load_checkpoint_model(tmp_path / "tiny_checkpoint.pt")
    assert metadata["elements"] == ["Al", "Cu"] and next(model.parameters()).dtype == torch.float64
    # the file carries radial tables (the pair style's native kernel), verified against the network
    assert prov["tabulated"]["points"] == 256 and 0 < prov["tabulated"]["force_difference"] < 1e-3
    scripted, _ = load_student(path)
    g = atoms_to_graph(read_frames(dataset)[0], 4.0, ["Al", "Cu"])
    args = (g["species"], g["edge_index"], g["edge_vectors"], g["num_local"])
    for x, y in zip(model(*args), evaluate(scripted, *args)):
        torch.testing.assert_close(x, y, rtol=1e-3, atol=1e-6)


def test_train_and_distill_commands(dataset, tmp_path):
    from pair_student.distill import main as distill
    from pair_student.training.cli import main as train_cli

    assert train_cli([str(dataset), "--out", str(tmp_path), "--size", "ultra-tiny", "--cutoff", "4.0", "--epochs", "1",
                      "--model", json.dumps(SMALL_MODEL), "--no-progress"]) == 0
    assert (tmp_path / "ultra-tiny_checkpoint.pt").is_file()  # training ends at its checkpoint
    assert not (tmp_path / "ultra-tiny_model_traced.pt").exists()  # pair-student export makes the student file
    out = tmp_path / "distill"
    assert distill(["--dataset", str(dataset), "--sizes", "ultra-tiny", "--out", str(out), "--epochs", "1",
                    "--cutoff", "4.0", "--no-progress"]) == 0
    summary = json.loads((out / "distill_summary.json").read_text())
    assert (out / "ultra-tiny_model_traced.pt").is_file() and "force_r2" in summary["sizes"]["ultra-tiny"]["metrics"]
    assert distill(["--dataset", str(dataset), "--sizes", "huge", "--out", str(out)]) == 2


def test_distill_samples_labels_trains_and_exports(tmp_path, monkeypatch):
    """The whole pipeline with EMT standing in for the teacher (sample -> label -> train -> export)."""
    import ase.io
    from ase.build import bulk
    from ase.calculators.emt import EMT

    import pair_student.distill
    from pair_student.distill import main as distill
    from pair_student.teachers import ASETeacher

    monkeypatch.setattr(pair_student.distill, "get_teacher", lambda name, device="cpu", **kw: ASETeacher(EMT(), name="emt"))
    structure = bulk("Cu", "fcc", a=3.6, cubic=True)
    ase.io.write(tmp_path / "cu.extxyz", structure)
    out = tmp_path / "out"
    assert distill(["--structures", str(tmp_path / "cu.extxyz"), "--teacher", "emt", "--sizes", "ultra-tiny",
                    "--out", str(out), "--frames", "12", "--epochs", "1", "--cutoff", "4.0", "--no-progress"]) == 0
    assert (out / "dataset.extxyz").is_file()
    meta = read_metadata(out / "ultra-tiny_model_traced.pt")
    assert meta["elements"] == ["Cu"] and meta["provenance"]["teacher"] == "emt"


def test_cosine_schedule_follows_epochs_or_the_time_budget_whichever_ends_first():
    by_epochs = TrainConfig(dataset="d", out="o", epochs=10, lr=1e-2, lr_min_ratio=0.1)
    assert cosine_lr(by_epochs, 0, 1e6) == pytest.approx(1e-2)  # no max_time: elapsed is ignored
    assert cosine_lr(by_epochs, 5, 0.0) == pytest.approx(0.5 * (1e-2 + 1e-3))
    assert cosine_lr(by_epochs, 10, 0.0) == pytest.approx(1e-3)
    timed = TrainConfig(dataset="d", out="o", epochs=1000, lr=1e-2, lr_min_ratio=0.1, max_time=60.0)
    assert cosine_lr(timed, 3, 30.0) == pytest.approx(0.5 * (1e-2 + 1e-3))
    assert cosine_lr(timed, 3, 90.0) == pytest.approx(1e-3)  # past the budget: stays at the floor


def test_grad_clip_acts_only_above_its_threshold(dataset, tmp_path):
    def weights(name, **kw):
        train(_cfg(dataset, tmp_path / name, epochs=2, ema_decay=0.0, **kw))
        return read_checkpoint(tmp_path / name / "t_checkpoint.pt")["train_state_dict"]

    plain, loose, tight = weights("plain"), weights("loose", grad_clip=1e9), weights("tight", grad_clip=1e-3)
    assert all(torch.equal(plain[k], loose[k]) for k in plain)
    assert any(not torch.allclose(plain[k], tight[k]) for k in plain)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="grad_clip must be a positive gradient norm"):
            train(_cfg(dataset, tmp_path / "bad", grad_clip=bad))


def test_early_stopping_waits_for_the_second_half_of_a_cosine_budget():
    cosine = TrainConfig(dataset="", out="", epochs=100, max_time=1000.0)
    assert not early_stopping_armed(cosine, epochs_done=30, elapsed_s=100.0)
    assert early_stopping_armed(cosine, epochs_done=50, elapsed_s=100.0)  # half the epochs
    assert early_stopping_armed(cosine, epochs_done=10, elapsed_s=600.0)  # more than half the time
    plateau = TrainConfig(dataset="", out="", epochs=100, scheduler="plateau")
    assert early_stopping_armed(plateau, epochs_done=1, elapsed_s=1.0)


@pytest.mark.parametrize("value", ["-1", "0", "abc"])
def test_train_cli_rejects_a_grad_clip_that_is_not_a_positive_norm(value, capsys):
    from pair_student.training.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["data.extxyz", "--out", "o", "--grad-clip", value])
    assert f"{value} is not a positive gradient norm" in capsys.readouterr().err


def test_train_refuses_empty_and_unlabelled_datasets_in_one_line(tmp_path, capsys):
    empty = tmp_path / "empty.extxyz"
    empty.write_text("")
    unlabelled = tmp_path / "unlabelled.extxyz"
    ase.io.write(unlabelled, [bulk("Cu", "fcc", a=3.6, cubic=True)] * 2)
    for path, message in ((empty, "holds no frames"), (unlabelled, "2 of 2 frames")):
        assert cli_main(["train", str(path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("pair-student train: error: ") and message in err and "pair-student label" in err
        assert "\n" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_train_resumed_with_another_size_is_refused_in_one_line(dataset, tmp_path, capsys):
    common = [str(dataset), "--out", str(tmp_path), "--name", "t", "--cutoff", "4.0", "--epochs", "1", "--no-progress"]
    assert cli_main(["train", *common, "--size", "ultra-tiny"]) == 0
    capsys.readouterr()
    checkpoint = (tmp_path / "t_checkpoint.pt").read_bytes()
    assert cli_main(["train", *common, "--size", "tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pair-student train: error: ") and "does not fit" in err and "size" in err
    assert "\n" not in err and "Traceback" not in err
    assert (tmp_path / "t_checkpoint.pt").read_bytes() == checkpoint  # the refused run wrote nothing over it


def test_core_repulsion_windows_come_from_the_training_split_and_reach_the_file(dataset, tmp_path):
    summary = train(_cfg(dataset, tmp_path, epochs=1, name="tiny"))
    frames = read_frames(dataset)
    graphs = {s: frames_to_graphs(read_frames(dataset, split=s), 4.0, ["Al", "Cu"]) for s in ("train", "val", "test")}
    by_split = {s: shortest_distances(g, ["Al", "Cu"]) for s, g in graphs.items() if g}
    _, expected = core_windows(["Al", "Cu"], by_split["train"])
    path = export(summary["checkpoint"], out=tmp_path / "tiny_model_traced.pt")
    scripted, meta = load_student(path)
    report = meta["provenance"]["core_repulsion"]
    shortest = torch.tensor([report[p]["shortest"] for p in ("Al-Al", "Al-Cu", "Al-Cu", "Cu-Cu")], dtype=torch.float64)
    # the float32 training model holds the windows to float32 precision; export may only lower them
    torch.testing.assert_close(shortest, expected, rtol=1e-7, atol=0)
    assert torch.all(scripted.core_outer.double() <= shortest) and len(frames) > len(graphs["train"])
    # a held-out frame closer than every training frame must not move the windows
    assert any(by_split[s] != by_split["train"] for s in by_split if s != "train")
    plain = train(_cfg(dataset, tmp_path / "off", epochs=1, name="tiny", core_repulsion=False))
    model, _ = load_checkpoint_model(plain["checkpoint"])
    assert not model.has_core_repulsion()


def test_init_from_continues_from_the_checkpoint_weights(dataset, tmp_path):
    first = train(_cfg(dataset, tmp_path / "a", epochs=2, name="tiny"))
    start, _ = load_checkpoint_model(first["checkpoint"])
    # zero epochs of the second run: its initial student is the first run's, statistics included
    again = train(_cfg(dataset, tmp_path / "b", epochs=0, name="tiny", init_from=first["checkpoint"]))
    model, _ = load_checkpoint_model(again["checkpoint"])
    for (name, a), (_, b) in zip(start.state_dict().items(), model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=name)
    with pytest.raises(ValueError, match="knows"):
        from pair_student.training.trainer import _initial_weights
        _initial_weights(first["checkpoint"], ["Cu"])
