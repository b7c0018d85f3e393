"""
`student/detection_helpers.py`: training loop, seeding, `rel_error`, the
visualiser and the visualising branch of the inference writer. The dataset
and the evaluation-file writer are pinned in `test_seed_bugs.py`.
"""
import math
import random

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

START = 3.0  # initial value of the stub's parameter
LEARNING_RATE = 5e-3
WEIGHT_DECAY = 1e-4


class QuadraticDetector(nn.Module):
    """Stub detector: one parameter `w`, loss `(w - 1) ** 2`, plus a non-loss output."""

    def __init__(self, start: float = START, loss_fn=None):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(start))
        self.loss_fn = loss_fn or (lambda w: (w - 1.0) ** 2)
        self.calls = 0

    def forward(self, images, gt_boxes):
        assert self.training
        self.calls += 1
        return {"loss_quadratic": self.loss_fn(self.w), "proposals": torch.zeros(3, 4)}


def one_batch_loader():
    return [(["a.jpg", "b.jpg"], torch.zeros(2, 3, 8, 8), torch.full((2, 40, 5), -1.0))]


def train(helpers, detector, max_iters=20, **kwargs):
    return helpers.train_detector(
        detector, one_batch_loader(), learning_rate=LEARNING_RATE, weight_decay=WEIGHT_DECAY,
        max_iters=max_iters, log_period=1000, progress_bar=False, plot=False, **kwargs,
    )


def test_train_detector_returns_max_iters_finite_decreasing_losses(helpers):
    detector = QuadraticDetector()
    history = train(helpers, detector, max_iters=20)
    assert isinstance(history, list) and len(history) == 20
    assert all(isinstance(v, float) and math.isfinite(v) for v in history)
    # The loss of each iteration is recorded before its step: the first is (3 - 1)^2.
    assert history[0] == pytest.approx((START - 1.0) ** 2)
    # SGD with momentum 0.9 on this quadratic does not overshoot within 20 steps.
    assert all(later < earlier for earlier, later in zip(history, history[1:])), history
    assert detector.calls == 20  # the one-batch loader is cycled


def expected_loss_after_first_step(first_lr: float) -> float:
    """One SGD step (weight decay folded into the gradient; momentum starts at 0)."""
    gradient = 2.0 * (START - 1.0) + WEIGHT_DECAY * START
    w1 = START - first_lr * gradient
    return (w1 - 1.0) ** 2


@pytest.mark.parametrize("warmup_iters", [0, 5])
def test_train_detector_linear_warmup_starts_at_lr_over_warmup_iters(helpers, warmup_iters):
    history = train(helpers, QuadraticDetector(), max_iters=10, warmup_iters=warmup_iters)
    first_lr = LEARNING_RATE / warmup_iters if warmup_iters else LEARNING_RATE
    assert history[1] == pytest.approx(expected_loss_after_first_step(first_lr), rel=1e-5)
    assert all(later < earlier for earlier, later in zip(history, history[1:]))


def test_train_detector_gradient_clipping_limits_the_steps(helpers):
    free = QuadraticDetector()
    clipped = QuadraticDetector()
    train(helpers, free, max_iters=20)
    history = train(helpers, clipped, max_iters=20, max_grad_norm=1e-3)
    assert all(math.isfinite(v) for v in history)
    assert START - free.w.item() > 0.1
    # |clipped gradient| <= 1e-3 (+ weight decay 3e-4 added by SGD after the
    # clip), so momentum 0.9 moves w by at most 20 * lr * 1.3e-3 / 0.1 = 1.3e-3.
    assert 0 < START - clipped.w.item() < 1.5e-3


def test_train_detector_raises_on_non_finite_loss(helpers):
    detector = QuadraticDetector(loss_fn=lambda w: w * float("nan"))
    with pytest.raises(FloatingPointError):
        train(helpers, detector, max_iters=3)


def test_train_detector_with_progress_bar_and_plot(helpers, capsys):
    history = helpers.train_detector(
        QuadraticDetector(), one_batch_loader(), max_iters=4, log_period=2, progress_bar=True, plot=True
    )
    assert len(history) == 4
    output = capsys.readouterr().out
    assert "[Iter 0]" in output and "[Iter 3]" in output
    assert "loss_quadratic" in output and "proposals" not in output


def test_plot_loss_history_saves_a_figure(helpers, tmp_path):
    path = tmp_path / "loss.png"
    helpers.plot_loss_history([3.0, 2.0, 1.5, 1.0] * 10, path=str(path))
    assert Image.open(path).size[0] > 0


def test_reset_seed_makes_torch_numpy_and_random_repeatable(helpers):
    def draw():
        return torch.rand(3).tolist(), np.random.rand(3).tolist(), random.random()

    helpers.reset_seed(123)
    first = draw()
    helpers.reset_seed(123)
    assert draw() == first
    helpers.reset_seed(124)
    second = draw()
    assert all(a != b for a, b in zip(first, second))


@pytest.mark.parametrize(
    "x, y, expected",
    [
        ([1.0, 2.0], [1.0, 2.0], 0.0),
        ([1.0, 2.0], [1.0, 2.5], 0.5 / 4.5),
        ([0.0, -4.0], [0.0, 4.0], 8.0 / 8.0),
        ([0.0], [0.0], 0.0),  # eps keeps 0 / 0 away
        ([3.0, 1.0], [3.0, 1.0 + 1e-6], 1e-6 / 6.0),
        # The denominator is max_i (|x_i| + |y_i|), as documented (not
        # max_i |x_i| + max_i |y_i|, which would give 0.5 here).
        ([1.0, 0.0], [0.0, 1.0], 1.0),
    ],
)
def test_rel_error_literal_values(helpers, x, y, expected):
    x64, y64 = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    assert helpers.rel_error(x64, y64) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def figure_texts():
    return [text.get_text() for ax in plt.gcf().axes for text in ax.texts]


def test_detection_visualizer_labels_class_zero(helpers):
    idx_to_class = dict(enumerate(helpers.VOC_CLASSES))
    image = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(0))
    gt = torch.tensor([[1.0, 2.0, 20.0, 30.0, 0.0], [5.0, 5.0, 9.0, 9.0, 19.0]])
    pred = torch.tensor([[2.0, 3.0, 21.0, 29.0, 0.0, 0.875]])
    helpers.detection_visualizer(image, idx_to_class, bbox=gt, pred=pred, points=[(4.0, 4.0)])
    texts = figure_texts()
    assert "aeroplane" in texts and "tvmonitor" in texts
    assert "aeroplane, 0.88" in texts
    assert len(plt.gcf().axes[0].patches) == 3


def test_detection_visualizer_accepts_pil_images_and_boxes_without_class(helpers):
    image = Image.new("RGB", (40, 30), color=(10, 200, 30))
    helpers.detection_visualizer(image, {}, bbox=torch.tensor([[1.0, 2.0, 10.0, 12.0]]))
    assert figure_texts() == []
    assert len(plt.gcf().axes[0].patches) == 1


class FixedDetector(nn.Module):
    def forward(self, images, test_score_thresh=None, test_nms_thresh=None):
        return torch.tensor([[1.0, 1.0, 5.0, 5.0]]), torch.tensor([0]), torch.tensor([0.5])


def test_inference_without_output_dir_shows_every_image_in_one_titled_grid(helpers, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shown = []
    monkeypatch.setattr(helpers, "show_detections_grid", lambda *args, **kwargs: shown.append((args, kwargs)))
    gt_boxes = torch.full((1, 40, 5), -1.0)
    gt_boxes[0, 0] = torch.tensor([0.0, 0.0, 4.0, 4.0, 2.0])
    loader = [(["x/1.jpg"], torch.zeros(1, 3, 16, 16), gt_boxes)] * 2
    helpers.inference_with_detector(
        FixedDetector(), loader, dict(enumerate(helpers.VOC_CLASSES)), score_thresh=None, nms_thresh=None,
        title="the run", progress_bar=False,
    )
    assert len(shown) == 1  # one figure for all images
    (items, _), kwargs = shown[0]
    assert kwargs == {"title": "the run"} and len(items) == 2
    image, gt, pred = items[0]
    assert image.shape == (3, 16, 16)
    torch.testing.assert_close(gt, gt_boxes[0, :1])
    torch.testing.assert_close(pred, torch.tensor([[1.0, 1.0, 5.0, 5.0, 0.0, 0.5]]))
    assert list(tmp_path.iterdir()) == []


def test_inference_rejects_batches_larger_than_one(helpers):
    loader = [(["a.jpg", "b.jpg"], torch.zeros(2, 3, 16, 16), torch.full((2, 40, 5), -1.0))]
    with pytest.raises(ValueError, match="batch size 1"):
        helpers.inference_with_detector(FixedDetector(), loader, {}, score_thresh=None, nms_thresh=None)


def test_inverse_norm_undoes_the_dataset_normalisation(helpers):
    from torchvision import transforms

    image = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    normalised = transforms.Normalize(helpers.IMAGENET_MEAN, helpers.IMAGENET_STD)(image)
    torch.testing.assert_close(helpers.inverse_norm(normalised), image)


# --- Checkpoints of the full run ------------------------------------------------------------------


def nan_from_call(n):
    """A loss that becomes NaN at the n-th forward call (1-based): a run that dies midway."""
    calls = []

    def loss(w):
        calls.append(None)
        return (w - 1.0) ** 2 * (float("nan") if len(calls) >= n else 1.0)

    return loss


def test_a_run_interrupted_after_a_checkpoint_continues_where_it_was_saved(helpers, tmp_path):
    path = str(tmp_path / "run" / "checkpoint.pt")
    uninterrupted = train(helpers, QuadraticDetector(), max_iters=10, warmup_iters=3)

    with pytest.raises(FloatingPointError):  # dies in iteration 7, after the checkpoint of iteration 4
        train(helpers, QuadraticDetector(loss_fn=nan_from_call(7)), max_iters=10, warmup_iters=3,
              checkpoint_path=path, checkpoint_period=4)
    assert torch.load(path, weights_only=True)["loss_history"] == uninterrupted[:4]

    resumed_detector = QuadraticDetector()
    resumed = train(helpers, resumed_detector, max_iters=10, warmup_iters=3,
                    checkpoint_path=path, checkpoint_period=4)
    assert resumed_detector.calls == 6  # iterations 4..9 only
    # Model, optimiser (momentum) and learning-rate schedule all continue: the same losses.
    assert resumed == pytest.approx(uninterrupted, rel=1e-6)
    assert torch.load(path, weights_only=True)["loss_history"] == resumed  # saved after the last iteration

    finished_detector = QuadraticDetector()
    assert train(helpers, finished_detector, max_iters=10, checkpoint_path=path, checkpoint_period=4) == resumed
    assert finished_detector.calls == 0 and finished_detector.w.item() == pytest.approx(resumed_detector.w.item())


def test_a_checkpoint_of_another_run_length_is_refused(helpers, tmp_path):
    path = str(tmp_path / "checkpoint.pt")
    train(helpers, QuadraticDetector(), max_iters=4, checkpoint_path=path, checkpoint_period=2)
    with pytest.raises(ValueError, match="checkpoint of another run .max_iters 4, this run 6.: delete it"):
        train(helpers, QuadraticDetector(), max_iters=6, checkpoint_path=path, checkpoint_period=2)


def test_no_checkpoint_is_written_with_period_zero(helpers, tmp_path):
    train(helpers, QuadraticDetector(), max_iters=4, checkpoint_path=str(tmp_path / "c.pt"), checkpoint_period=0)
    assert list(tmp_path.iterdir()) == []


# --- Figures and printed output --------------------------------------------------------------------


def test_visualiser_draws_each_kind_in_its_own_colour_with_a_legend(helpers):
    idx_to_class = dict(enumerate(helpers.VOC_CLASSES))
    image = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(0))
    helpers.detection_visualizer(
        image, idx_to_class, bbox=torch.tensor([[1.0, 2.0, 20.0, 30.0, 0.0]]),
        pred=torch.tensor([[2.0, 3.0, 21.0, 29.0, 0.0, 0.875]]), anchors=torch.tensor([[0.0, 0.0, 16.0, 16.0]]),
        title="a title",
    )
    ax = plt.gcf().axes[0]
    edge = {patch.get_edgecolor()[:3]: patch.get_linestyle() for patch in ax.patches}
    assert set(edge) == {helpers.GT_COLOR, helpers.PRED_COLOR, helpers.ANCHOR_COLOR}
    assert edge[helpers.ANCHOR_COLOR] == "dashed" and edge[helpers.GT_COLOR] == "solid"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["ground truth", "anchor", "prediction"]
    assert ax.get_title() == "a title"


def test_grid_puts_every_image_in_one_figure_with_a_figure_legend_and_the_title(helpers, tmp_path):
    image = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    gt = torch.tensor([[1.0, 1.0, 8.0, 8.0, 3.0]])
    pred = torch.tensor([[2.0, 2.0, 9.0, 9.0, 3.0, 0.5]])
    items = [(image, gt, None)] * 5 + [(image, None, pred)]  # predictions only in the last image
    helpers.show_detections_grid(items, dict(enumerate(helpers.VOC_CLASSES)), title="run X", columns=4,
                                 path=str(tmp_path / "grid.png"))
    figure = plt.gcf()
    drawn = [ax for ax in figure.axes if ax.images]
    assert len(drawn) == 6 and len(figure.axes) == 8  # 2 rows of 4, two left empty
    assert all(ax.get_legend() is None for ax in figure.axes)
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["ground truth", "prediction"]
    assert figure._suptitle.get_text() == "run X"
    assert Image.open(tmp_path / "grid.png").size[0] > 0


def test_map_summary_prints_the_map_and_every_class_in_a_few_lines(helpers):
    class Result:
        map = 0.4321
        ap_per_class = {name: index / 20 for index, name in enumerate(helpers.VOC_CLASSES)}

    lines = helpers.map_summary(Result()).splitlines()
    assert lines[0] == "mAP@0.5: 43.2% over 20 classes"
    assert len(lines) == 1 + 5  # 20 classes, 4 per line
    assert "   aeroplane   0.0%" in lines[1] and "tvmonitor  95.0%" in lines[-1]


def test_inference_shows_a_progress_bar(helpers, capsys):
    loader = [(["x/1.jpg"], torch.zeros(1, 3, 16, 16), torch.full((1, 40, 5), -1.0))] * 3
    helpers.inference_with_detector(FixedDetector(), loader, {0: "a"}, score_thresh=None, nms_thresh=None)
    assert "inference: 100%" in capsys.readouterr().err
