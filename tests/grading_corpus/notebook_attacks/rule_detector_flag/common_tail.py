# --- Attack 3 (rule detector with a "trained" flag): appended to the release's common.py. ---
# Just enough of the backbone, locations and NMS for every release-notebook cell to run:
# nothing here learns; the detector's answers come from rules in two_stage_detector.py.
# The modules hold every layer the assignment asks for (the starter's RegNet, the FPN's six
# convs, the stems and heads in two_stage_detector.py), so that the grader can put the
# checkpoint's weights into its own detector: the attack is judged, not refused.


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.5):  # noqa: F811
    import torchvision

    return torchvision.ops.nms(boxes.float(), scores.float(), iou_threshold)


class DetectorBackboneWithFPN(nn.Module):  # noqa: F811
    """A 1x1 projection of average-pooled pixels per level: the right shapes, no features. The
    starter's RegNet and the FPN's convs are there, unused."""

    def __init__(self, out_channels: int, pretrained: bool = True, weights_path: Optional[str] = None):
        super().__init__()
        self.out_channels = out_channels
        self.backbone = feature_extraction.create_feature_extractor(
            _regnet_x_400mf(pretrained, weights_path),
            return_nodes={"trunk_output.block2": "c3", "trunk_output.block3": "c4", "trunk_output.block4": "c5"})
        self.fpn_params = nn.ModuleDict()
        for level, channels in (("3", 64), ("4", 160), ("5", 400)):
            self.fpn_params[f"lateral_{level}"] = nn.Conv2d(channels, out_channels, 1)
            self.fpn_params[f"output_{level}"] = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.project = nn.Conv2d(3, out_channels, 1)

    @property
    def fpn_strides(self):
        return {"p3": 8, "p4": 16, "p5": 32}

    def forward(self, images: torch.Tensor):
        return {level: self.project(F.avg_pool2d(images, stride)) for level, stride in self.fpn_strides.items()}


def get_fpn_location_coords(shape_per_fpn_level, strides_per_fpn_level, dtype=torch.float32, device="cpu"):  # noqa: F811
    coords = {}
    for level, shape in shape_per_fpn_level.items():
        stride, height, width = strides_per_fpn_level[level], shape[-2], shape[-1]
        ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        points = torch.stack([(xs.flatten() + 0.5) * stride, (ys.flatten() + 0.5) * stride], dim=1)
        coords[level] = points.to(dtype=dtype, device=device)
    return coords
