# ---- adversarial part: an RPN whose training forward returns two constants ----
# RPN's sampling test reads the sample's size and mix from the losses on a case it builds
# (invariant_checks.rpn_sampling_case): zero objectness logits (BCE log 2 per sampled anchor) and
# box deltas of 1000 (L1 of about 4000 per foreground anchor), batch_size_per_image 8, and GT boxes
# equal to 6 anchors per image, so foreground is never scarce. The expected counts are then the
# same on every case (8 per image sampled, 4 foreground), and so are the losses: log 2 and
# 4000 * 4 / 8. This RPN samples nothing, matches nothing and computes no loss.
import math

_StubRPN = RPN


class RPN(_StubRPN):
    def forward(self, feats_per_fpn_level, strides_per_fpn_level, gt_boxes=None):
        if not self.training:
            return super().forward(feats_per_fpn_level, strides_per_fpn_level, gt_boxes)
        return {"loss_rpn_obj": torch.tensor(math.log(2)), "loss_rpn_box": torch.tensor(2000.0)}
