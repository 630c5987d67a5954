"""zoo.timing: a run's steady-state figure and compile seconds from its epochs, resumed runs included."""

from __future__ import annotations

import pytest

from zoo.api.backend import EpochMetrics
from zoo.run.timing import PhaseClock, epoch_images, run_figures


def epoch(n: int, images: int, train_s: float, *, warmup_s: float = 0.0, warmup_images: int = 0,
          val_s: float = 0.5) -> EpochMetrics:
    """An epoch that trained ``images`` in ``train_s`` seconds, the first ``warmup_images`` in ``warmup_s``."""
    steady = (images - warmup_images) / (train_s - warmup_s) if images > warmup_images else None
    return EpochMetrics(epoch=n, train_loss=1.0, train_accuracy=0.5, val_loss=None, val_accuracy=None,
                        images_per_sec=images / train_s, seconds=train_s + val_s, lr=1e-3,
                        warmup_steps=3 if warmup_images else 0, warmup_seconds=warmup_s,
                        steady_images_per_sec=steady)


def test_steady_figure_covers_every_step_after_the_warm_up_and_nothing_else() -> None:
    # 1,000 images an epoch at batch 100: epoch 1 spends 4 s on 300 warm-up images, then 700 in 7 s;
    # epochs 2 and 3 train 1,000 in 10 s and 5 s.
    history = [epoch(1, 1000, 11.0, warmup_s=4.0, warmup_images=300), epoch(2, 1000, 10.0), epoch(3, 1000, 5.0)]
    figures = run_figures(history, train_count=1000, batch_size=100)
    assert figures["train_steady_samples_per_sec"] == pytest.approx(2700 / 22.0)  # not 3000 / 26
    assert figures["compile_seconds"] == pytest.approx(4.0)
    assert figures["train_loop_seconds"] == pytest.approx(26.0)
    assert figures["val_seconds"] == pytest.approx(1.5)
    dicts = run_figures([vars(m) for m in history], train_count=1000, batch_size=100)  # as the run store has them
    assert dicts == figures


def test_a_resumed_epoch_counts_only_the_images_it_trained() -> None:
    # Stopped after 4 of epoch 2's 10 batches; the resumed process trains the other 600 images of it, warming up
    # on its first 300.
    history = [epoch(1, 1000, 11.0, warmup_s=4.0, warmup_images=300), epoch(2, 600, 9.0, warmup_s=3.0,
                                                                             warmup_images=300)]
    figures = run_figures(history, train_count=1000, batch_size=100, resumed_epoch=2, resumed_step=4)
    assert figures["train_steady_samples_per_sec"] == pytest.approx((700 + 300) / (7.0 + 6.0))
    assert figures["compile_seconds"] == pytest.approx(7.0)
    assert epoch_images(1000, 100, 2, resumed_epoch=2, resumed_step=4) == 600
    assert epoch_images(1000, 100, 2, resumed_epoch=2, resumed_step=0) == 1000  # resumed at an epoch's end
    assert epoch_images(1000, 128, 1, resumed_epoch=1, resumed_step=9) == 0  # never below zero


def test_epochs_that_were_all_warm_up_give_no_steady_figure() -> None:
    only = EpochMetrics(epoch=1, train_loss=1.0, train_accuracy=0.5, val_loss=None, val_accuracy=None,
                        images_per_sec=100.0, seconds=2.0, lr=1e-3, warmup_steps=2, warmup_seconds=2.0)
    figures = run_figures([only], train_count=200, batch_size=100)
    assert "train_steady_samples_per_sec" not in figures and figures["compile_seconds"] == 2.0
    legacy = {"epoch": 1, "images_per_sec": 100.0, "seconds": 2.0}  # stored before the fields existed
    assert "compile_seconds" not in run_figures([legacy], train_count=200, batch_size=100)  # unknown, not 0


def test_phase_clock_adds_up_and_keeps_time_when_a_phase_raises() -> None:
    clock = PhaseClock()
    with clock.phase("data"):
        pass
    with pytest.raises(ValueError), clock.phase("data"):
        raise ValueError("boom")
    assert set(clock.seconds) == {"data"} and clock.seconds["data"] >= 0
