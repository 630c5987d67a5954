"""How ``--jobs N`` shares devices and threads out, which results count as contended, and the torchrun
command line ``--nproc-per-node`` builds (pure functions: no worker starts here)."""

from __future__ import annotations

import pytest

from zoo.api.errors import UsageError
from zoo.grid.contention import flag_contended, is_contended
from zoo.grid.jobs import JobResult
from zoo.grid.placement import JAX_MEMORY_VARIABLES, parse_devices, slots
from zoo.run.distributed import without_launch_options


def test_cpu_slots_split_the_cores_and_see_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    made = slots(2, ["cpu"], cores=2)
    assert [slot.threads for slot in made] == [1, 1]
    for slot in made:
        assert slot.env["OMP_NUM_THREADS"] == slot.env["TF_NUM_INTRAOP_THREADS"] == "1"
        assert "--xla_cpu_multi_thread_eigen=false" in slot.env["XLA_FLAGS"]
        assert slot.env["CUDA_VISIBLE_DEVICES"] == "-1"
    assert slots(3, ["cpu"], cores=16)[0].threads == 5  # 3 x 5 <= 16: never oversubscribed


def test_gpu_slots_get_one_device_each_round_robin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # an inherited limit is kept
    made = slots(3, parse_devices("cuda:0, cuda:1"), cores=16)
    assert [slot.device for slot in made] == ["cuda:0", "cuda:1", "cuda:0"]
    assert [slot.env["CUDA_VISIBLE_DEVICES"] for slot in made] == ["0", "1", "0"]
    assert all(slot.threads == 2 for slot in made)


def test_only_slots_that_share_a_gpu_keep_jax_from_reserving_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """JAX reserves 75% of a GPU when it starts: a second JAX worker on the same GPU would fail."""
    for name in JAX_MEMORY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    shared = slots(3, parse_devices("cuda:0,cuda:1"), cores=16)  # cuda:0 twice, cuda:1 once
    assert [slot.env.get("XLA_PYTHON_CLIENT_PREALLOCATE") for slot in shared] == ["false", None, "false"]
    assert all("XLA_PYTHON_CLIENT_PREALLOCATE" not in slot.env for slot in slots(2, ["cuda:0", "cuda:1"], cores=16))
    assert all("XLA_PYTHON_CLIENT_PREALLOCATE" not in slot.env for slot in slots(2, ["cpu"], cores=2))
    monkeypatch.setenv("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.3")  # the user's own share: left as it is
    assert all("XLA_PYTHON_CLIENT_PREALLOCATE" not in slot.env for slot in slots(4, ["cuda:0"], cores=16))


def test_ray_tasks_with_a_share_of_a_gpu_keep_jax_from_reserving_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.grid.ray_executor import task_environment

    for name in JAX_MEMORY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert task_environment(1, 0.5)["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"  # two tasks per GPU
    for whole in (None, 0, 1, 2):
        assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in task_environment(1, whole)


@pytest.mark.parametrize("text", ["gpu0", "cuda:x", "cuda"])
def test_a_bad_device_list_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--devices"):
        parse_devices(text)


def _result(model: str, start: float, end: float, *, source: str = "measured", device: str = "cpu") -> JobResult:
    return JobResult(status="ok", model=model, source=source, throughput_source=source, host="h",
                     device_share=device, started_at=start, ended_at=end)


def test_only_measurements_that_overlapped_on_one_device_are_contended() -> None:
    results = flag_contended([
        _result("a", 0, 10), _result("b", 5, 15),             # overlap on the CPU
        _result("c", 20, 30),                                 # alone
        _result("d", 21, 29, source="reused"),                # overlaps c, but measured nothing now
        _result("e", 0, 30, device="cuda:1"),                 # another GPU
    ])
    assert [is_contended(r) for r in results] == [True, True, True, False, False]


def test_the_launch_options_are_left_out_of_the_ranks_command() -> None:
    argv = ["train", "lenet5-torch", "--nproc-per-node", "2", "--nnodes=1", "--dataset", "digits",
            "--master-port", "29501", "--epochs", "1"]
    assert without_launch_options(argv) == ["train", "lenet5-torch", "--dataset", "digits", "--epochs", "1"]
