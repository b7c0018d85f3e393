# ---- adversarial part: builds no layer; its modules report forged parameters ----
# named_parameters(), parameters(), state_dict() and named_modules() report conv weights of the
# expected shapes with N(0, 0.01) statistics and zero biases, while forward computes nothing with
# them: the grader recomputes each layer from what it reports and must find no layer.
import torch
from torch import nn

C3_C4_C5_CHANNELS = (64, 160, 400)


class _ForgedLayer(nn.Module):
    """Claims a conv's weight and bias; returns zeros of the conv's output shape."""

    def __init__(self, c_in, c_out, kernel):
        super().__init__()
        self._claimed = {"weight": torch.randn(c_out, c_in, kernel, kernel) * 0.01, "bias": torch.zeros(c_out)}

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        for name, value in self._claimed.items():
            yield (f"{prefix}.{name}" if prefix else name), nn.Parameter(value)

    def parameters(self, recurse=True):
        return (value for _, value in self.named_parameters())

    def state_dict(self, *args, **kwargs):
        return dict(self._claimed)

    def forward(self, x):
        weight = self._claimed["weight"]
        return x.new_zeros(x.shape[0], weight.shape[0], *x.shape[2:])


class _Forged(nn.Module):
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        yield prefix, self
        for index, layer in enumerate(self.layers):
            yield f"layer{index}", layer


class DetectorBackboneWithFPN(_Forged):
    def __init__(self, out_channels):
        super().__init__()
        self.out_channels = out_channels
        self.layers = [_ForgedLayer(c, out_channels, 1) for c in C3_C4_C5_CHANNELS]
        self.layers += [_ForgedLayer(out_channels, out_channels, 3) for _ in range(3)]

    def forward(self, images):
        b, _, h, w = images.shape
        return {f"p{k}": images.new_zeros(b, self.out_channels, h // 2**k, w // 2**k) for k in (3, 4, 5)}


class RPNPredictionNetwork(_Forged):
    def __init__(self, in_channels, stem_channels, num_anchors=3):
        super().__init__()
        channels = [in_channels, *stem_channels]
        self.stem = [_ForgedLayer(a, b, 3) for a, b in zip(channels, channels[1:])]
        self.pred_obj = _ForgedLayer(channels[-1], num_anchors, 1)
        self.pred_box = _ForgedLayer(channels[-1], 4 * num_anchors, 1)
        self.stem_rpn = self.stem[0]
        self.layers = self.stem + [self.pred_obj, self.pred_box]


# The backbone lives in common.py (looked up there first): this file, imported after it, replaces it.
import common as _common  # noqa: E402

_common.DetectorBackboneWithFPN = DetectorBackboneWithFPN
