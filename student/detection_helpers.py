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


def detection_visualizer(img, idx_to_class, bbox=None, pred=None, points=None):
    """
    Data visualizer on the original image. Support both GT
    box input and proposal input.

    Input:
    - img: PIL Image input, or a `(3, H, W)` tensor with values in [0, 1]
    - idx_to_class: Mapping from the index (0-19) to the class name
    - bbox: GT bbox (in red, optional), a tensor of shape Nx5, where N is
            the number of GT boxes, 5 indicates
            (x_tl, y_tl, x_br, y_br, class); or Nx4 boxes without class
    - pred: Predicted bbox (in green, optional),
            a tensor of shape N'x6, where N' is the number
            of predicted boxes, 6 indicates
            (x_tl, y_tl, x_br, y_br, class, object confidence score)
    - points: Optional list of `(x, y)` points (in yellow)
    """

    # Convert image to HWC if it is passed as a Tensor (0-1, CHW).
    if isinstance(img, torch.Tensor):
        img = (img.clamp(0, 1) * 255).permute(1, 2, 0).cpu().numpy()

    img_copy = np.asarray(img).astype("uint8")
    _, ax = plt.subplots(frameon=False)

    ax.axis("off")
    ax.imshow(img_copy)

    if points is not None:
        points_x = [t[0] for t in points]
        points_y = [t[1] for t in points]
        ax.scatter(points_x, points_y, color="yellow", s=24)

    for boxes, color, label_dy in ((bbox, (1.0, 0, 0), 0), (pred, (0, 1.0, 0), 15)):
        if boxes is None:
            continue
        for single_bbox in boxes:
            x0, y0, x1, y1 = [float(v) for v in single_bbox[:4]]
            ax.add_patch(
                mpl.patches.Rectangle(
                    (x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=color,
                    linewidth=4, linestyle="solid",
                )
            )
            if len(single_bbox) > 4:  # if class info provided
                text = idx_to_class[int(single_bbox[4])]
                if len(single_bbox) > 5:  # and a confidence score
                    text = f"{text}, {float(single_bbox[5]):.2f}"
                ax.text(
                    x0, y0 + label_dy, text, size=18, family="sans-serif",
                    bbox={"facecolor": "black", "alpha": 0.8, "pad": 0.7, "edgecolor": "none"},
                    verticalalignment="top", color=(1, 1, 1), zorder=10,
                )
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


def _progress(iterable, total: int, enabled: bool):
    """Wrap `iterable` in a tqdm progress bar when tqdm is available."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc="training", mininterval=2.0)


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

    batches = infinite_loader(train_loader)
    detector.train()
    start_time = time.time()

    for _iter in _progress(range(max_iters), max_iters, progress_bar):
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

    print(f"Trained {max_iters} iterations in {time.time() - start_time:.1f}s")
    if plot:
        plot_loss_history(loss_history)
    return loss_history


def plot_loss_history(loss_history: List[float], path: Optional[str] = None):
    """Plot the per-iteration loss and its moving average; save to `path`."""
    window = max(1, len(loss_history) // 20)
    smooth = np.convolve(loss_history, np.ones(window) / window, mode="valid")
    plt.figure()
    plt.title("Training loss history")
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
):
    """
    Run the detector on every image of `test_loader` (batch size 1).

    With `output_dir`, write Cartucho-format evaluation files for EVERY image
    (an image without predictions gets an empty detection file, so its ground
    truth still counts): `output_dir/ground-truth/<id>.txt` with lines
    `<class> <x1> <y1> <x2> <y2>` and `output_dir/detection-results/<id>.txt`
    with lines `<class> <score> <x1> <y1> <x2> <y2>`. Existing files there are
    replaced. Without `output_dir`, visualise the predictions instead.

    Args:
        score_thresh, nms_thresh: Passed to the detector (None: no threshold
            / no NMS).
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

    for test_batch in test_loader:
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
            image = inverse_norm(images[0].float()).cpu()
            detection_visualizer(image, idx_to_class, gt_boxes, pred_boxes)

    end_t = time.time()
    print(f"Total inference time: {end_t-start_t:.1f}s")
