"""The benchmark's PyTorch-eager peer of laxray's detector (bench only, never a
runtime dependency).

The same network as laxray (docs/design.md §2): torchvision's ResNet as the
backbone, mmdetection's FPN, the ATSS head with the label-aware mechanism, and
the same post-processing, written the way a PyTorch user would write it. It
loads laxray's own weights (a safetensors file from Detector.saveWeights) and
reads laxray's resolved `model` config, so both sides compute the same thing;
the benchmark compares their detections before it times anything.

Protocol (one JSON object per line on stdin, one reply per line on stdout):
  {"cmd": "load", "config": <model config>, "weights": "<file>", "threads": n}
  {"cmd": "detect", "input": "<raw float32 file>", "shape": [N, 3, H, W],
   "metas": [{inputWidth, inputHeight, scaleX, scaleY, originalWidth, originalHeight}],
   "repeats": k, "return": bool}
    -> {"ms": [k timings], "detections": [[{box, score, label}...] per image]}
  {"cmd": "quit"}
  {"cmd": "load", ..., "device": "cuda", "precision": "fp32" | "tf32" | "bf16"}
    runs on the GPU as laxray does there: cuDNN benchmark on, TF32 only for
    'tf32', bf16 autocast with LA's gradient passes and reweighting in float32;
    "detect" replies then carry the peak memory PyTorch's allocator saw.
Run with the Python whose torch laxray was built against (Debian's
python3-torch for Debian's LibTorch 1.13). torchvision is used for its ResNet
and NMS when present; without it the peer uses its own (same results).
"""

import json
import math
import struct
import sys
import time

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

try:
    import torchvision
    from torchvision.ops import batched_nms
except ImportError:  # a torch without torchvision: the same greedy NMS in plain torch
    torchvision = None

    def batched_nms(boxes, scores, groups, iou_threshold):
        order = scores.argsort(descending=True, stable=True)
        boxes, groups = boxes[order], groups[order]
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        lt = torch.max(boxes[:, None, :2], boxes[None, :, :2])
        rb = torch.min(boxes[:, None, 2:], boxes[None, :, 2:])
        inter = (rb - lt).clamp(min=0).prod(2)
        iou = inter / (area[:, None] + area[None, :] - inter).clamp(min=1e-12)
        suppress = (iou > iou_threshold) & (groups[:, None] == groups[None, :])
        keep = torch.ones(len(order), dtype=torch.bool, device=boxes.device)
        for i in range(len(order)):
            if keep[i]:
                keep[i + 1:] &= ~suppress[i, i + 1:]
        return order[keep]

SAFETENSORS_DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "I64": torch.int64,
                      "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    start = 8 + length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(data[start + begin:start + end])
        t = torch.frombuffer(raw, dtype=SAFETENSORS_DTYPES[entry["dtype"]]) if raw else torch.empty(0)
        tensors[name] = t.reshape(entry["shape"]).clone()
    return tensors


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """torchvision's ResNet layout (the same parameter names), for a torch without torchvision."""

    def __init__(self, depth):
        super().__init__()
        block, layers = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]), 50: (Bottleneck, [3, 4, 6, 3])}[depth]
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self.make_layer(block, 64, layers[0], 1)
        self.layer2 = self.make_layer(block, 128, layers[1], 2)
        self.layer3 = self.make_layer(block, 256, layers[2], 2)
        self.layer4 = self.make_layer(block, 512, layers[3], 2)

    def make_layer(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, 1, None) for _ in range(1, blocks)]
        return nn.Sequential(*layers)


class Fpn(nn.Module):
    """mmdetection's FPN, start_level 1, extra convs on the output."""

    def __init__(self, in_channels, out_channels, num_outputs, extra_relu_p7):
        super().__init__()
        self.lateral_convs = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)
        self.fpn_convs = nn.ModuleList(nn.Conv2d(out_channels, out_channels, 3, padding=1) for _ in in_channels)
        for _ in range(len(in_channels), num_outputs):
            self.fpn_convs.append(nn.Conv2d(out_channels, out_channels, 3, stride=2, padding=1))
        self.extra_relu_p7 = extra_relu_p7
        self.num_outputs = num_outputs

    def forward(self, features):
        laterals = [conv(f) for conv, f in zip(self.lateral_convs, features)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=laterals[i - 1].shape[2:], mode="nearest")
        outs = [self.fpn_convs[i](laterals[i]) for i in range(len(laterals))]
        for i in range(len(laterals), self.num_outputs):
            x = outs[-1]
            if i > len(laterals) and self.extra_relu_p7:
                x = F.relu(x)
            outs.append(self.fpn_convs[i](x))
        return outs


class ConvGnRelu(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.gn = nn.GroupNorm(32, cout)

    def forward(self, x):
        return F.relu(self.gn(self.conv(x)))


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return x * self.scale


class AtssHead(nn.Module):
    def __init__(self, head, in_channels):
        super().__init__()
        self.cfg = head
        feat = head["featChannels"]
        self.cls_convs = nn.ModuleList(ConvGnRelu(in_channels if i == 0 else feat, feat) for i in range(head["stackedConvs"]))
        self.reg_convs = nn.ModuleList(ConvGnRelu(in_channels if i == 0 else feat, feat) for i in range(head["stackedConvs"]))
        self.distribution = head["regression"] == "distribution"
        self.reg_max = head["regMax"]
        self.atss_cls = nn.Conv2d(feat, head["numClasses"], 3, padding=1)
        self.atss_reg = nn.Conv2d(feat, 4 * (self.reg_max + 1) if self.distribution else 4, 3, padding=1)
        if self.distribution:
            self.reg_conf = nn.Sequential(nn.Conv2d(20, 64, 1), nn.ReLU(), nn.Conv2d(64, 1, 1))
        else:
            self.atss_centerness = nn.Conv2d(feat, 1, 3, padding=1)
        self.scales = nn.ModuleList(Scale() for _ in head["strides"])
        self.la = head["la"]
        twice = head.get("laRegTwice")
        self.reg_twice = (self.la != "none") if twice is None else (twice and (self.la != "none" or "laWeight" in head))
        self.autocast = False  # set by load: LA stays in float32 under autocast
        coefficients = head.get("laCoefficients", {"a": 1, "b": 1, "c": 1})
        self.abc = (coefficients["a"], coefficients["b"], coefficients["c"])

    def cls_tower(self, x):
        for m in self.cls_convs:
            x = m(x)
        return x

    def reg_tower(self, x):
        for m in self.reg_convs:
            x = m(x)
        return x

    def quality(self, reg_features, reg):
        if not self.distribution:
            return self.atss_centerness(reg_features)
        n, _, h, w = reg.shape
        prob = reg.reshape(n, 4, self.reg_max + 1, h, w).softmax(2)
        top = prob.topk(4, dim=2).values
        stat = torch.cat([top, top.mean(2, keepdim=True)], 2)
        return self.reg_conf(stat.reshape(n, -1, h, w))

    def label_aware(self, features):
        """LAcls at test time (pseudo labels), eq. 5: every level's first
        prediction, then one gradient per objective over all levels."""
        full = torch.autocast(features[0].device.type, enabled=False) if self.autocast else contextlib.nullcontext()
        with torch.enable_grad(), full:
            if self.autocast:
                features = [x.float() for x in features]
            tildes = [x.detach().requires_grad_(True) for x in features]
            ys = [torch.sigmoid(self.atss_cls(self.cls_tower(t))) for t in tildes]
            labels, misleading = [], []
            for y in ys:
                yd = y.detach()
                hat = F.one_hot(yd.argmax(1), yd.shape[1]).permute(0, 3, 1, 2).to(yd.dtype)
                labels.append(hat)
                misleading.append(F.one_hot((yd * (1 - hat)).argmax(1), yd.shape[1]).permute(0, 3, 1, 2).to(yd.dtype))
            g1 = torch.autograd.grad(sum((y * l).sum() for y, l in zip(ys, labels)), tildes, retain_graph=True)
            g2 = torch.autograd.grad(sum((y * m).sum() for y, m in zip(ys, misleading)), tildes)
        a, b, c = self.abc
        return [x * (a + b * torch.sigmoid(p) - c * torch.sigmoid(q)) for x, p, q in zip(features, g1, g2)]

    def forward(self, features):
        if self.la == "cls" and self.cfg.get("labelAwareAtTest", True):
            features = self.label_aware(features)
        elif self.la not in ("none", "cls"):
            raise ValueError(f"the peer implements la 'none' and 'cls', not '{self.la}'")
        cls_all, reg_all, quality_all = [], [], []
        self.sizes = [tuple(x.shape[2:]) for x in features]
        for level, x in enumerate(features):
            cls = self.atss_cls(self.cls_tower(x))
            reg_features = self.reg_tower(x)
            if self.reg_twice:
                reg_features = self.reg_tower(reg_features)
            reg = self.scales[level](self.atss_reg(reg_features))
            quality = self.quality(reg_features, reg)
            n = x.shape[0]
            cls_all.append(cls.permute(0, 2, 3, 1).reshape(n, -1, cls.shape[1]))
            reg_all.append(reg.permute(0, 2, 3, 1).reshape(n, -1, reg.shape[1]))
            quality_all.append(quality.permute(0, 2, 3, 1).reshape(n, -1))
        return cls_all, reg_all, quality_all


class Detector(nn.Module):
    def __init__(self, model):
        super().__init__()
        depth = model["backbone"]["depth"]
        if model["backbone"].get("norm", "bn") == "gn":
            raise ValueError("the peer implements BatchNorm backbones only")
        if torchvision is not None:
            resnet = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34, 50: torchvision.models.resnet50}[depth]()
            resnet.fc = nn.Identity()
        else:
            resnet = ResNet(depth)
        self.backbone = resnet
        channels = [512, 1024, 2048] if depth >= 50 else [128, 256, 512]
        neck = model["neck"]
        self.neck = Fpn(channels, neck["outChannels"], neck["numOutputs"], neck.get("extraReluP7", True))
        head = dict(model["head"])
        head["labelAwareAtTest"] = model.get("test", {}).get("labelAware", True)
        self.head = AtssHead(head, neck["outChannels"])
        self.strides = head["strides"]
        self.anchor_scale = head["anchorScale"]
        self.test = model["test"]

    def backbone_features(self, x):
        r = self.backbone
        x = r.maxpool(r.relu(r.bn1(r.conv1(x))))
        c3 = r.layer2(r.layer1(x))
        c4 = r.layer3(c3)
        return [c3, c4, r.layer4(c4)]

    @torch.no_grad()
    def detect(self, images, metas):
        low = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        scope = torch.autocast(images.device.type, dtype=low) if low else contextlib.nullcontext()
        with scope:
            cls_levels, reg_levels, quality_levels = self.head(self.neck(self.backbone_features(images)))
        cls_levels = [t.float() for t in cls_levels]
        reg_levels = [t.float() for t in reg_levels]
        quality_levels = [t.float() for t in quality_levels]
        return self.postprocess(cls_levels, reg_levels, quality_levels, metas, images.device)

    def postprocess(self, cls_levels, reg_levels, quality_levels, metas, device):
        """mmdetection v2 ATSSHead.get_bboxes + multiclass_nms, batched: top-k per
        level by max cls·quality, decode, clip, class score > thr, class-wise NMS."""
        n = cls_levels[0].shape[0]
        nms_pre, thr = self.test["nmsPre"], self.test["scoreThreshold"]
        boxes_all, cls_all, quality_all = [], [], []
        for level, (cls, reg, quality) in enumerate(zip(cls_levels, reg_levels, quality_levels)):
            stride = self.strides[level]
            count = cls.shape[1]
            h, w = self.head.sizes[level]
            ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
            centres = torch.stack([xs.reshape(-1), ys.reshape(-1)], 1).float() * stride  # [A_l, 2]
            cls_prob, quality_prob = cls.sigmoid(), quality.sigmoid()
            if 0 < nms_pre < count:
                best = (cls_prob * quality_prob.unsqueeze(2)).max(2).values
                idx = best.topk(nms_pre, dim=1).indices  # [N, k]
            else:
                idx = torch.arange(count, device=device).expand(n, count)
            cls_prob = cls_prob.gather(1, idx.unsqueeze(2).expand(-1, -1, cls_prob.shape[2]))
            quality_prob = quality_prob.gather(1, idx)
            reg = reg.gather(1, idx.unsqueeze(2).expand(-1, -1, reg.shape[2]))
            points = centres[idx]  # [N, k, 2]
            if self.head.distribution:
                bins = reg.reshape(n, -1, 4, self.head.reg_max + 1).softmax(3)
                dist = (bins * torch.arange(self.head.reg_max + 1, device=device, dtype=bins.dtype)).sum(3) * stride
                boxes = torch.cat([points - dist[..., :2], points + dist[..., 2:]], 2)
            else:
                boxes = self.delta_decode(points, reg, stride)
            boxes_all.append(boxes)
            cls_all.append(cls_prob)
            quality_all.append(quality_prob)
        boxes, cls_prob, quality_prob = torch.cat(boxes_all, 1), torch.cat(cls_all, 1), torch.cat(quality_all, 1)
        results = []
        for i, meta in enumerate(metas):
            b = boxes[i].clone()
            b[:, 0::2] = b[:, 0::2].clamp(0, meta["inputWidth"])
            b[:, 1::2] = b[:, 1::2].clamp(0, meta["inputHeight"])
            rows, classes = (cls_prob[i] > thr).nonzero(as_tuple=True)
            scores = cls_prob[i][rows, classes] * quality_prob[i][rows]
            keep = batched_nms(b[rows], scores, classes, self.test["nmsIou"])[: self.test["maxPerImage"]]
            scale = torch.tensor([meta["scaleX"], meta["scaleY"], meta["scaleX"], meta["scaleY"]], device=device)
            kept = b[rows][keep] / scale
            kept[:, 0::2] = kept[:, 0::2].clamp(0, meta["originalWidth"])
            kept[:, 1::2] = kept[:, 1::2].clamp(0, meta["originalHeight"])
            results.append((kept, scores[keep], classes[keep]))
        return results

    def delta_decode(self, points, deltas, stride):
        side = self.anchor_scale * stride
        d = deltas * torch.tensor([0.1, 0.1, 0.2, 0.2], device=deltas.device)
        clip = abs(math.log(16 / 1000))
        wh = side * d[..., 2:].clamp(-clip, clip).exp()
        centre = points + side * d[..., :2]
        return torch.cat([centre - wh / 2, centre + wh / 2], -1)


def load(cmd):
    torch.set_num_threads(max(1, int(cmd["threads"])))
    model = Detector(cmd["config"])
    state = read_safetensors(cmd["weights"])
    state = {k: v.to(torch.int64) if k.endswith("num_batches_tracked") else v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("backbone.fc")]
    if missing or unexpected:
        raise ValueError(f"weights do not match the peer: missing {missing}, unexpected {unexpected}")
    model.device = torch.device(cmd.get("device", "cpu"))
    model.precision = cmd.get("precision", "fp32")
    model.head.autocast = model.precision in ("bf16", "fp16")
    if model.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = model.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = model.precision == "tf32"
    return model.to(model.device).eval()


def main():
    model = None
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "load":
                model = load(cmd)
                reply = {"ok": True, "threads": torch.get_num_threads(), "torch": torch.__version__}
            elif cmd["cmd"] == "detect":
                shape = cmd["shape"]
                images = torch.from_file(cmd["input"], size=math.prod(shape), dtype=torch.float32).reshape(shape)
                images = images.to(model.device)
                times = []
                for _ in range(int(cmd.get("repeats", 1))):
                    start = time.perf_counter()
                    results = model.detect(images, cmd["metas"])
                    results = [tuple(t.cpu() for t in r) for r in results]  # one copy to the host, as laxray
                    times.append((time.perf_counter() - start) * 1000)
                reply = {"ms": times}
                if model.device.type == "cuda":
                    reply["memory"] = {"maxAllocatedBytes": torch.cuda.max_memory_allocated(),
                                       "maxReservedBytes": torch.cuda.max_memory_reserved()}
                if cmd.get("return"):
                    reply["detections"] = [
                        [{"box": b.tolist(), "score": s.item(), "label": int(c)} for b, s, c in zip(*r)] for r in results
                    ]
            else:
                raise ValueError(f"unknown command {cmd['cmd']}")
        except Exception as e:  # the benchmark reports it
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
