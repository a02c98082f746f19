"""Where a process sits in a torchrun job, from the environment and from the process group."""

import pytest

from pair_student.distributed import env_rank, group_rank, init_process_group, process_group


def test_env_rank_outside_torchrun(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert env_rank() == (0, 1)


@pytest.mark.parametrize("rank,world", [("0", "2"), ("1", "2"), ("3", "4")])
def test_env_rank_reads_rank_and_world_size(monkeypatch, rank, world):
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", world)
    assert env_rank() == (int(rank), int(world))


@pytest.mark.parametrize("rank,world", [("2", "2"), ("5", "2"), ("-1", "2"), ("1", None)])
def test_a_rank_outside_the_job_is_refused_with_both_values(monkeypatch, rank, world):
    monkeypatch.setenv("RANK", rank)
    if world is None:
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("WORLD_SIZE", world)
    with pytest.raises(ValueError) as info:
        env_rank()
    message = str(info.value)
    assert f"RANK={rank}" in message and f"WORLD_SIZE={world or 1}" in message
    assert "0 <= RANK < WORLD_SIZE" in message


def test_a_rank_that_is_no_number_is_refused(monkeypatch):
    monkeypatch.setenv("RANK", "first")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="RANK='first' and WORLD_SIZE='2' must be whole numbers"):
        env_rank()


def test_without_a_process_group_this_is_rank_0_of_1(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert process_group() is None
    assert group_rank() == (0, 1)
    assert init_process_group("cpu") is False  # one process: nothing to join
