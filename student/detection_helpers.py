"""
Helper code for the two-stage detector assignment: the tiny PASCAL VOC 2007
dataset, visualisation, the training loop and the inference writer.

No changes are needed here. This module depends on torch, torchvision,
matplotlib and PIL only; it does not import your solution.
"""
import json
import os
import random
import shutil
import time
from typing import Dict, List, Optional

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image
from torch import optim
from torchvision import transforms

TensorDict = Dict[str, torch.Tensor]

# fmt: off
VOC_CLASSES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus",
    "car", "cat", "chair", "cow", "diningtable", "dog",
    "horse", "motorbike", "person", "pottedplant", "sheep",
    "sofa", "train", "tvmonitor",
]
# fmt: on
NUM_CLASSES = len(VOC_CLASSES)

# GT boxes of an image are padded to this many rows, so images batch together.
MAX_BOXES_PER_IMAGE = 40
# Class id (and box co-ordinates) of padding rows and of boxes that the centre
# crop removed. It equals `BACKGROUND_LABEL` of `common.py`: the anchor matcher
# drops such rows.
PADDING_LABEL = -1.0

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# Un-normalise an image tensor by the ImageNet colour statistics. Without
# this, images will NOT be visually understandable.
inverse_norm = transforms.Compose(
    [
        transforms.Normalize(mean=[0.0, 0.0, 0.0], std=[1 / s for s in IMAGENET_STD]),
        transforms.Normalize(mean=[-m for m in IMAGENET_MEAN], std=[1.0, 1.0, 1.0]),
    ]
)


class VOC2007DetectionTiny(torch.utils.data.Dataset):
    """
    A tiny version of PASCAL VOC 2007 Detection dataset that includes images and
    annotations with small images and no difficult boxes.

    Every item is `(image_path, image, gt_boxes)`: the image as a normalised
    `(3, image_size, image_size)` tensor and `gt_boxes` as a `(40, 5)` tensor
    of `(x1, y1, x2, y2, class)` rows in pixels of the transformed image,
    padded with rows of -1.
    """

    def __init__(
        self,
        dataset_dir: str,
        split: str = "train",
        download: bool = False,
        image_size: int = 224,
    ):
        """
        Args:
            dataset_dir: Folder holding `voc07_{split}.json` and the images.
            split: "train" or "val".
            download: Whether to download PASCAL VOC 2007 to `dataset_dir`
                (does nothing when it is already there).
            image_size: Size of images in the batch. The shorter edge of images
                will be resized to this size, followed by a center crop. Both
                splits are cropped alike, so every image has the same size;
                objects entirely outside the crop are dropped.
        """
        super().__init__()
        self.image_size = image_size

        if download:
            from voc_download import download_voc2007_tiny

            download_voc2007_tiny(dataset_dir)

        # Make a (class to ID) and inverse (ID to class) mapping.
        self.class_to_idx = {_class: _idx for _idx, _class in enumerate(VOC_CLASSES)}
        self.idx_to_class = {_idx: _class for _idx, _class in enumerate(VOC_CLASSES)}

        # Load instances from JSON file:
        annotations_path = os.path.join(dataset_dir, f"voc07_{split}.json")
        if not os.path.isfile(annotations_path):
            raise FileNotFoundError(
                f"{annotations_path} not found: point `dataset_dir` at the "
                "dataset folder, or pass download=True"
            )
        with open(annotations_path) as annotations_file:
            self.instances = json.load(annotations_file)
        self.dataset_dir = dataset_dir

        # Resize the shorter image edge, take a center crop and normalize.
        self.image_transform = transforms.Compose(
            [
                transforms.Resize(image_size),
                transforms.CenterCrop(image_size),
                transforms.ToTensor(),
                transforms.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD),
            ]
        )

    def __len__(self):
        return len(self.instances)

    def __getitem__(self, index: int):
        # PIL image and dictionary of annotations.
        image_path, ann = self.instances[index]
        # The published JSON files prefix paths with "./here/".
        image_path = image_path.replace("./here/", "")
        image_path = os.path.join(self.dataset_dir, image_path)
        image = Image.open(image_path).convert("RGB")

        # Collect a list of GT boxes: (N, 4), and GT classes: (N, 1).
        # `reshape` keeps the shapes right for an image without boxes.
        gt_boxes = torch.tensor(
            [inst["xyxy"] for inst in ann], dtype=torch.float32
        ).reshape(-1, 4)
        gt_classes = torch.tensor(
            [self.class_to_idx[inst["name"]] for inst in ann], dtype=torch.float32
        ).reshape(-1, 1)

        # Record original image size before transforming.
        original_width, original_height = image.size

        # Transform input image to CHW tensor.
        image = self.image_transform(image)

        # Apply the resize and centre crop to the boxes, with the same integer
        # arithmetic as torchvision's `Resize` (the longer edge is truncated)
        # and `CenterCrop` (the offset is rounded): scale, shift, clamp.
        size = self.image_size
        if original_width <= original_height:
            new_width, new_height = size, int(size * original_height / original_width)
        else:
            new_width, new_height = int(size * original_width / original_height), size
        crop_x1 = int(round((new_width - size) / 2.0))
        crop_y1 = int(round((new_height - size) / 2.0))
        scale = torch.tensor([new_width / original_width, new_height / original_height] * 2)
        gt_boxes = gt_boxes * scale - torch.tensor([crop_x1, crop_y1] * 2)
        gt_boxes = gt_boxes.clamp(min=0, max=size)

        # Concatenate GT classes with GT boxes; shape: (N, 5)
        gt_boxes = torch.cat([gt_boxes, gt_classes], dim=1)

        # Center cropping may completely exclude certain boxes that were close
        # to image boundaries (they end up with zero width or height).
        invalid = (gt_boxes[:, 0] >= gt_boxes[:, 2]) | (gt_boxes[:, 1] >= gt_boxes[:, 3])
        gt_boxes[invalid] = PADDING_LABEL

        # Pad to max 40 boxes, that's enough for VOC.
        if len(gt_boxes) > MAX_BOXES_PER_IMAGE:
            raise ValueError(
                f"{image_path} has {len(gt_boxes)} boxes, more than "
                f"MAX_BOXES_PER_IMAGE = {MAX_BOXES_PER_IMAGE}"
            )
        padding = torch.full((MAX_BOXES_PER_IMAGE - len(gt_boxes), 5), PADDING_LABEL)
        gt_boxes = torch.cat([gt_boxes, padding])
        # Return image path because it is needed for evaluation.
        return image_path, image, gt_boxes


# Box colours: one per kind, distinct also for colour-blind readers (Okabe-Ito).
GT_COLOR = (0.0, 0.45, 0.70)  # blue
PRED_COLOR = (0.90, 0.62, 0.0)  # orange
ANCHOR_COLOR = (0.80, 0.47, 0.65)  # pink, dashed
POINT_COLOR = (0.94, 0.89, 0.26)  # yellow
GRID_COLUMNS = 4  # images per row of `show_detections_grid`


def _as_image_array(img) -> np.ndarray:
    """HWC uint8 array of a PIL image or a `(3, H, W)` tensor with values in [0, 1]."""
    if isinstance(img, torch.Tensor):
        img = (img.clamp(0, 1) * 255).permute(1, 2, 0).cpu().numpy()
    return np.asarray(img).astype("uint8")


def draw_detections(ax, img, idx_to_class, bbox=None, pred=None, anchors=None, points=None,
                    title: Optional[str] = None, label_size: float = 12, legend: bool = True):
    """
    Draw an image and its boxes into the matplotlib axes `ax`.

    Args:
        img: PIL image, or a `(3, H, W)` tensor with values in [0, 1].
        idx_to_class: Class index (0-19) -> class name.
        bbox: GT boxes (blue), `(N, 5)` rows `(x1, y1, x2, y2, class)`, or
            `(N, 4)` without class.
        pred: Predicted boxes (orange), `(N', 6)` rows
            `(x1, y1, x2, y2, class, score)`.
        anchors: Anchor boxes (pink, dashed), `(K, 4)`.
        points: Optional list of `(x, y)` points (yellow).
        title: Axes title.
        legend: Add a legend naming the kinds of boxes drawn.

    Returns:
        The legend handles of the kinds drawn (for a figure-wide legend).
    """
    ax.axis("off")
    ax.imshow(_as_image_array(img))
    handles = []
    if points is not None and len(points) > 0:
        ax.scatter([t[0] for t in points], [t[1] for t in points], color=POINT_COLOR, s=24)
        handles.append(mpl.lines.Line2D([], [], color=POINT_COLOR, marker="o", linestyle="", label="location"))
    kinds = (
        (bbox, GT_COLOR, "solid", "top", "ground truth"),
        (anchors, ANCHOR_COLOR, "dashed", "top", "anchor"),
        (pred, PRED_COLOR, "solid", "bottom", "prediction"),
    )
    for boxes, color, linestyle, label_at, name in kinds:
        if boxes is None or len(boxes) == 0:
            continue
        handles.append(mpl.lines.Line2D([], [], color=color, linestyle=linestyle, linewidth=3, label=name))
        for single_bbox in boxes:
            x0, y0, x1, y1 = [float(v) for v in single_bbox[:4]]
            ax.add_patch(
                mpl.patches.Rectangle(
                    (x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=color,
                    linewidth=3, linestyle=linestyle,
                )
            )
            if len(single_bbox) > 4:  # if class info provided
                text = idx_to_class[int(single_bbox[4])]
                if len(single_bbox) > 5:  # and a confidence score
                    text = f"{text}, {float(single_bbox[5]):.2f}"
                # GT labels hang below the box's top edge, predictions sit above
                # its bottom edge, so the two rarely cover each other.
                ax.text(
                    x0, y0 if label_at == "top" else y1, text, size=label_size, family="sans-serif",
                    bbox={"facecolor": color, "alpha": 0.85, "pad": 0.5, "edgecolor": "none"},
                    verticalalignment=label_at, color=(1, 1, 1), zorder=10, clip_on=True,
                )
    if title:
        ax.set_title(title)
    if legend and handles:
        ax.legend(handles=handles, loc="upper right", fontsize=label_size * 0.8, framealpha=0.8)
    return handles


def detection_visualizer(img, idx_to_class, bbox=None, pred=None, points=None, anchors=None,
                         title: Optional[str] = None):
    """
    Show one image with its GT boxes (blue), predictions (orange), anchors
    (pink, dashed) and points (yellow), with a legend; see `draw_detections`
    for the formats.
    """
    _, ax = plt.subplots(frameon=False)
    draw_detections(ax, img, idx_to_class, bbox=bbox, pred=pred, anchors=anchors, points=points, title=title)
    plt.show()


def show_detections_grid(items, idx_to_class, title: Optional[str] = None, columns: int = GRID_COLUMNS,
                         path: Optional[str] = None):
    """
    Show several images in one figure, `columns` per row.

    Args:
        items: List of `(image, gt_boxes, pred_boxes)`, formats as in
            `draw_detections` (either box tensor may be None).
        title: Figure title (name the run it shows).
        path: Also save the figure there.
    """
    if not items:
        print("No images to show.")
        return
    columns = min(columns, len(items))
    rows = (len(items) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 4 * rows + 0.6), squeeze=False)
    for ax in axes.flat[len(items):]:
        ax.axis("off")
    handles = {}  # one figure-wide legend: every kind drawn in any image
    for ax, (image, gt, pred) in zip(axes.flat, items):
        for handle in draw_detections(ax, image, idx_to_class, bbox=gt, pred=pred, label_size=8, legend=False):
            handles.setdefault(handle.get_label(), handle)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if handles:
        fig.legend(handles=list(handles.values()), loc="upper right", ncol=len(handles))
    if path is not None:
        fig.savefig(path, bbox_inches="tight")
    plt.show()


def reset_seed(number: int):
    """
    Reset random seeds (Python, NumPy and torch) to the specific number.
    """
    random.seed(number)
    np.random.seed(number)
    torch.manual_seed(number)


def rel_error(x, y, eps=1e-10):
    """
    Compute the relative error between a pair of tensors x and y,
    which is defined as:

                            max_i |x_i - y_i|
    rel_error(x, y) = -------------------------------
                      max(eps, max_i (|x_i| + |y_i|))

    Inputs:
    - x, y: Tensors of the same shape
    - eps: Small positive constant for numeric stability

    Returns:
    - rel_error: Scalar giving the relative error between x and y
    """
    top = (x - y).abs().max().item()
    bot = (x.abs() + y.abs()).clamp(min=eps).max().item()
    return top / bot


def infinite_loader(loader):
    """Get an infinite stream of batches from a data loader."""
    while True:
        yield from loader


def _progress(iterable, total: int, enabled: bool, desc: str = "training", initial: int = 0):
    """Wrap `iterable` in a tqdm progress bar when tqdm is available."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, mininterval=2.0, initial=initial)


CHECKPOINT_FORMAT = 1  # version of the checkpoint dict `train_detector` saves


def save_checkpoint(path: str, checkpoint: dict):
    """Write `checkpoint` with `torch.save`, atomically: a disconnect while
    saving leaves the previous checkpoint intact."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    partial = f"{path}.partial"
    torch.save(checkpoint, partial)
    os.replace(partial, path)


def load_checkpoint(path: str, max_iters: int) -> Optional[dict]:
    """The checkpoint at `path` (None when there is none), checked to belong
    to a run of `max_iters` iterations."""
    if not os.path.isfile(path):
        return None
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if checkpoint.get("format") != CHECKPOINT_FORMAT or checkpoint.get("max_iters") != max_iters:
        raise ValueError(
            f"{path} is a checkpoint of another run (max_iters {checkpoint.get('max_iters')}, this run "
            f"{max_iters}): delete it to start afresh, or give another checkpoint_path"
        )
    return checkpoint


def train_detector(
    detector,
    train_loader,
    learning_rate: float = 5e-3,
    weight_decay: float = 1e-4,
    max_iters: int = 5000,
    log_period: int = 20,
    device: str = "cpu",
    warmup_iters: int = 0,
    max_grad_norm: Optional[float] = None,
    progress_bar: bool = True,
    plot: bool = True,
    title: str = "Training loss",
    checkpoint_path: Optional[str] = None,
    checkpoint_period: int = 0,
) -> List[float]:
    """
    Train the detector with SGD (momentum 0.9), step decay of the learning
    rate by 10x at 60% and 90% of training, and an optional linear warm-up.

    Args:
        detector: Module whose training forward `detector(images, gt_boxes)`
            returns a dict of scalar losses (keys containing "loss").
        train_loader: Loader of `(image_paths, images, gt_boxes)` batches;
            it is cycled for `max_iters` iterations.
        warmup_iters: Iterations of linear learning-rate warm-up from
            `learning_rate / warmup_iters` (0: none).
        max_grad_norm: Clip the gradient norm to this value (None: no clip).
        log_period: Print the losses every this many iterations.
        progress_bar: Show a tqdm progress bar.
        plot: Plot the loss history at the end.
        title: Title of that plot (name the run).
        checkpoint_path: Where to save the model, optimiser, learning-rate
            schedule and loss history every `checkpoint_period` iterations
            (and after the last one). If the file exists when training
            starts, training continues from it instead of starting over,
            e.g. after a Colab disconnect; the batches then come in a new
            order. None: no checkpoints.
        checkpoint_period: Iterations between checkpoints (0: none).

    Returns:
        The total training loss of every iteration, a list of `max_iters`
        floats.
    """

    detector.to(device=device)
    params = [p for p in detector.parameters() if p.requires_grad]
    optimizer = optim.SGD(
        params, momentum=0.9, lr=learning_rate, weight_decay=weight_decay
    )
    # LR schedule: step decay at 60% and 90% of training iterations, after
    # the optional linear warm-up.
    milestones = [int(0.6 * max_iters), int(0.9 * max_iters)]

    def lr_factor(iteration: int) -> float:
        warmup = min(1.0, (iteration + 1) / warmup_iters) if warmup_iters else 1.0
        return warmup * 0.1 ** sum(iteration >= m for m in milestones)

    lr_scheduler = optim.lr_scheduler.LambdaLR(optimizer, lr_factor)

    # Keep track of training loss for plotting.
    loss_history = []
    saving = checkpoint_path is not None and checkpoint_period > 0
    checkpoint = load_checkpoint(checkpoint_path, max_iters) if saving else None
    if checkpoint is not None:
        detector.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        lr_scheduler.load_state_dict(checkpoint["lr_scheduler"])
        loss_history = list(checkpoint["loss_history"])
        print(f"Continuing from {checkpoint_path}: {len(loss_history)} of {max_iters} iterations done")

    batches = infinite_loader(train_loader)
    detector.train()
    start_time = time.time()
    first_iter = len(loss_history)

    for _iter in _progress(range(first_iter, max_iters), max_iters, progress_bar, initial=first_iter):
        # Ignore first arg (image path) during training.
        _, images, gt_boxes = next(batches)

        images = images.to(device)
        gt_boxes = gt_boxes.to(device)

        # Dictionary of loss scalars; ignore keys like "proposals" in RPN.
        losses = detector(images, gt_boxes)
        losses = {k: v for k, v in losses.items() if "loss" in k}

        optimizer.zero_grad()
        total_loss = sum(losses.values())
        total_loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        lr_scheduler.step()

        loss_history.append(total_loss.item())
        if not np.isfinite(loss_history[-1]):
            raise FloatingPointError(
                f"Training loss became {loss_history[-1]} at iteration {_iter}: "
                f"{ {k: v.item() for k, v in losses.items()} }"
            )

        # Print losses periodically.
        if _iter % log_period == 0 or _iter == max_iters - 1:
            loss_str = f"[Iter {_iter}][loss: {total_loss:.3f}]"
            for key, value in losses.items():
                loss_str += f"[{key}: {value:.3f}]"
            print(loss_str, flush=True)

        done = _iter + 1
        if saving and (done % checkpoint_period == 0 or done == max_iters):
            save_checkpoint(checkpoint_path, {
                "format": CHECKPOINT_FORMAT,
                "max_iters": max_iters,
                "model": detector.state_dict(),
                "optimizer": optimizer.state_dict(),
                "lr_scheduler": lr_scheduler.state_dict(),
                "loss_history": loss_history,
            })

    trained = max_iters - first_iter
    seconds = time.time() - start_time
    print(f"Trained {trained} iterations in {seconds:.1f}s ({seconds / max(trained, 1):.3f}s per iteration)")
    if plot:
        plot_loss_history(loss_history, title=title)
    return loss_history


def plot_loss_history(loss_history: List[float], path: Optional[str] = None, title: str = "Training loss"):
    """Plot the per-iteration loss and its moving average under `title`; save to `path`."""
    window = max(1, len(loss_history) // 20)
    smooth = np.convolve(loss_history, np.ones(window) / window, mode="valid")
    plt.figure()
    plt.title(title)
    plt.xlabel("Iteration")
    plt.ylabel("Loss")
    plt.plot(loss_history, alpha=0.4, label="loss")
    plt.plot(np.arange(window - 1, len(loss_history)), smooth, label=f"mean of {window}")
    plt.legend()
    if path is not None:
        plt.savefig(path, bbox_inches="tight")
    plt.show()


def _write_box_file(path: str, lines: List[str]):
    with open(path, "w") as box_file:
        box_file.writelines(line + "\n" for line in lines)


def inference_with_detector(
    detector,
    test_loader,
    idx_to_class,
    score_thresh: Optional[float],
    nms_thresh: Optional[float],
    output_dir: Optional[str] = None,
    dtype: torch.dtype = torch.float32,
    device: str = "cpu",
    title: Optional[str] = None,
    progress_bar: bool = True,
):
    """
    Run the detector on every image of `test_loader` (batch size 1).

    With `output_dir`, write Cartucho-format evaluation files for EVERY image
    (an image without predictions gets an empty detection file, so its ground
    truth still counts): `output_dir/ground-truth/<id>.txt` with lines
    `<class> <x1> <y1> <x2> <y2>` and `output_dir/detection-results/<id>.txt`
    with lines `<class> <score> <x1> <y1> <x2> <y2>`. Existing files there are
    replaced. Without `output_dir`, show the images with their GT boxes and
    predictions in one grid figure, titled `title`.

    Args:
        score_thresh, nms_thresh: Passed to the detector (None: no threshold
            / no NMS).
        progress_bar: Show a tqdm progress bar.
    """
    detector.to(dtype=dtype, device=device)
    detector.eval()
    start_t = time.time()

    if output_dir is not None:
        det_dir = os.path.join(output_dir, "detection-results")
        gt_dir = os.path.join(output_dir, "ground-truth")
        for folder in (det_dir, gt_dir):
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)

    shown = []  # (image, gt_boxes, pred_boxes) to draw, without output_dir
    total = len(test_loader) if hasattr(test_loader, "__len__") else None
    for test_batch in _progress(test_loader, total, progress_bar, desc="inference"):
        image_paths, images, gt_boxes = test_batch
        if len(images) != 1:
            raise ValueError(f"inference needs batch size 1, got {len(images)}")
        images = images.to(dtype=dtype, device=device)

        with torch.no_grad():
            # shapes: (num_preds, 4) (num_preds, ) (num_preds, )
            pred_boxes, pred_classes, pred_scores = detector(
                images, test_score_thresh=score_thresh, test_nms_thresh=nms_thresh
            )

        # Remove padding (-1) and batch dimension from GT boxes, and any
        # background prediction; transfer to CPU.
        gt_boxes = gt_boxes[0]
        gt_boxes = gt_boxes[gt_boxes[:, 4] != PADDING_LABEL].cpu()

        valid_pred = pred_classes != PADDING_LABEL
        pred_boxes = pred_boxes[valid_pred].float().cpu()
        pred_classes = pred_classes[valid_pred].cpu()
        pred_scores = pred_scores[valid_pred].float().cpu()

        # Combine predicted classes and scores into boxes for evaluation
        # and visualization.
        pred_boxes = torch.cat(
            [pred_boxes, pred_classes.unsqueeze(1).float(), pred_scores.unsqueeze(1)],
            dim=1,
        )

        if output_dir is not None:
            file_name = os.path.splitext(os.path.basename(image_paths[0]))[0] + ".txt"
            _write_box_file(
                os.path.join(gt_dir, file_name),
                [
                    f"{idx_to_class[int(b[4])]} {b[0]:.2f} {b[1]:.2f} {b[2]:.2f} {b[3]:.2f}"
                    for b in gt_boxes.tolist()
                ],
            )
            _write_box_file(
                os.path.join(det_dir, file_name),
                [
                    f"{idx_to_class[int(b[4])]} {b[5]:.6f} {b[0]:.2f} {b[1]:.2f} {b[2]:.2f} {b[3]:.2f}"
                    for b in pred_boxes.tolist()
                ],
            )
        else:
            shown.append((inverse_norm(images[0].float()).cpu(), gt_boxes, pred_boxes))

    end_t = time.time()
    print(f"Total inference time: {end_t-start_t:.1f}s")
    if output_dir is None:
        show_detections_grid(shown, idx_to_class, title=title)


def map_summary(result, columns: int = 4) -> str:
    """The mAP and the AP of every class of a `voc_map.MapResult`, as a few
    lines of text (`columns` classes per line)."""
    cells = [f"{name:>12s} {ap:6.1%}" for name, ap in result.ap_per_class.items()]
    rows = ["  ".join(cells[i : i + columns]) for i in range(0, len(cells), columns)]
    return "\n".join([f"mAP@0.5: {result.map:.1%} over {len(cells)} classes", *rows])
