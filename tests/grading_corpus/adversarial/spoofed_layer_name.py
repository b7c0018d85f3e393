# ---- adversarial part: a layer whose name forges the verdict ----
# Layer names reach the network tests' messages (layer_evidence.summary) as they are: a module
# registered under a name holding a newline puts the fake verdict on a line of its own.
import common as _common
from torch import nn

C3_CHANNELS = 64  # RegNetX-400MF's c3, as the notebook prints it


class DetectorBackboneWithFPN(nn.Module):
    def __init__(self, out_channels):
        super().__init__()
        self.out_channels = out_channels
        self.add_module("spoofed layer name\n@FAKE_VERDICT@\n", nn.Conv2d(C3_CHANNELS, out_channels, 1))


_common.DetectorBackboneWithFPN = DetectorBackboneWithFPN
