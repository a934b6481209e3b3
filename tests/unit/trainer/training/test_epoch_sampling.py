"""Per-source epoch sampling: a small source stays whole, a large one rotates, weights follow."""

from __future__ import annotations

import torch

from trainer.training.sampling import class_weights, epoch_order, inclusion_chances


def test_each_source_gives_at_most_the_cap_and_a_small_source_all_of_itself() -> None:
    sources = torch.tensor([0] * 5 + [1] * 40)
    generator = torch.Generator().manual_seed(0)
    first = epoch_order(len(sources), sources, 10, generator)
    second = epoch_order(len(sources), sources, 10, generator)
    for order in (first, second):
        assert len(order) == 15 and len(set(order.tolist())) == 15
        assert sorted(i for i in order.tolist() if i < 5) == [0, 1, 2, 3, 4]
    # The large source rotates: another share of it in the next epoch.
    assert set(first.tolist()) != set(second.tolist())


def test_without_a_cap_every_image_is_visited_as_before() -> None:
    order = epoch_order(7, torch.tensor([0, 0, 1, 1, 1, 1, 1]), 0, torch.Generator().manual_seed(3))
    assert order.tolist() == torch.randperm(7, generator=torch.Generator().manual_seed(3)).tolist()


def test_class_weights_balance_the_classes_as_sampled() -> None:
    # Source 0: 4 images of class 1. Source 1: 36 of class 0, capped at 4 per epoch.
    labels = torch.tensor([1] * 4 + [0] * 36)
    sources = torch.tensor([0] * 4 + [1] * 36)
    chances = inclusion_chances(sources, 4, len(labels))
    assert chances is not None
    # As sampled, the classes are even (4 and 4), so neither needs weighting.
    assert torch.allclose(class_weights(labels, 2, chances), torch.ones(2))
    # On disk they are 36:4, and the plain weights say so.
    assert torch.allclose(class_weights(labels, 2), torch.tensor([40 / 72, 40 / 8]))


def test_balanced_sources_share_every_batch_equally() -> None:
    # Source 0 is a ninth of the images; balanced, it gives half of every batch.
    sources = torch.tensor([0] * 10 + [1] * 90)
    generator = torch.Generator().manual_seed(0)
    order = epoch_order(len(sources), sources, 0, generator, balanced=True)
    assert len(order) == 100
    for start in range(0, 100, 8):
        batch = sources[order[start : start + 8]]
        assert int((batch == 0).sum()) == int((batch == 1).sum())
    drawn = order.tolist()
    # The small source repeats (each image five times), the large one gives a fresh 50.
    assert all(drawn.count(i) == 5 for i in range(10))
    large = [i for i in drawn if i >= 10]
    assert len(large) == 50 == len(set(large))
    again = epoch_order(len(sources), sources, 0, generator, balanced=True)
    assert {i for i in again.tolist() if i >= 10} != set(large)


def test_class_weights_follow_balanced_sampling() -> None:
    # Source 0: 10 images of class 1, drawn five times each; source 1: 90 of class 0, drawn
    # 50 times in all. As sampled, the classes are even.
    labels = torch.tensor([1] * 10 + [0] * 90)
    sources = torch.tensor([0] * 10 + [1] * 90)
    draws = inclusion_chances(sources, 0, len(labels), balanced=True)
    assert draws is not None
    assert torch.allclose(draws[:10], torch.full((10,), 5.0))
    assert torch.allclose(draws[10:], torch.full((90,), 50 / 90))
    assert torch.allclose(class_weights(labels, 2, draws), torch.ones(2))
