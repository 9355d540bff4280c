"""tfjs_keras.py - builds a PyTorch module from a Keras layers model saved in the TensorFlow.js
format (model.json + binary weights), so that it can be traced to TorchScript.

Its job: a general, strict converter. Every layer type that nsfwjs' MobileNetV2 and InceptionV3
use is handled, with the general Keras semantics rather than just the values those two models
happen to use (padding "valid"/"same" at any stride, with TensorFlow's asymmetric "same" padding;
dilation; optional bias; BatchNormalization without scale or centre; ReLU with or without
max_value). Anything else is refused with a ConversionError that names the
layer, its type and the setting: a layer type not in LAYERS, an unknown activation, channels_first
data, a layer used more than once, a weight the layer needs but the manifest lacks, a weight of
the wrong shape, and any weight in the manifest that no layer consumed.

Weights: tfjs weight manifests list {name, shape, dtype, quantization?}; the bytes follow each
other in that order. uint8/uint16 affine quantization is undone as tfjs does it:
float32(q * scale + min), computed in double and rounded once (bit-exact with tfjs); other
quantizations (float16) are refused. Weights are looked up by name ("<layer>/<param>"): manifest
order is not layer order.

Layout: the PyTorch graph runs in NCHW; Keras channels_last axes are mapped (4-D axis 3 or -1 is
dim 1, axis 1 is dim 2, axis 2 is dim 3), and Flatten permutes to NHWC first so that Dense layers
see Keras' feature order. Kernels: Conv2D HWIO -> OIHW (transpose 3,2,0,1); DepthwiseConv2D
[kh, kw, C, M] -> [C*M, 1, kh, kw] with groups=C; Dense [in, out] -> [out, in].

"same" padding depends on the input size; it is computed for the size given to build_model()
(the model's declared input size), which is the only size framewire feeds.

Usage:
    topo = json.load(open("model.json")); data = open("weights.bin", "rb").read()
    weights = read_weights(topo["weightsManifest"], data)
    net = build_model(topo["modelTopology"], weights, height=224, width=224)
    torch.jit.trace(net, torch.zeros(1, 3, 224, 224))
"""

import math
import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class ConversionError(Exception):
    """The model cannot be converted faithfully; the message says which layer and why."""


# --- weights ------------------------------------------------------------------------------------

_DTYPES = {"float32": np.float32, "int32": np.int32}
_QUANT = {"uint8": (np.uint8, 1), "uint16": (np.uint16, 2)}


def read_weights(weights_manifest, data):
    """Decodes the concatenated weight bytes into {name: float32 torch.Tensor} (in manifest
    order). Raises ConversionError on an unknown dtype, a size mismatch or a duplicate name."""
    out = {}
    offset = 0
    for group in weights_manifest:
        for spec in group["weights"]:
            name, shape = spec["name"], [int(d) for d in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = spec.get("quantization")
            if q:
                qd = q.get("dtype")
                if qd not in _QUANT:
                    raise ConversionError(f"weight {name}: unsupported quantization dtype {qd!r}")
                np_t, size = _QUANT[qd]
            else:
                dt = spec.get("dtype", "float32")
                if dt not in _DTYPES:
                    raise ConversionError(f"weight {name}: unsupported dtype {dt!r}")
                np_t = _DTYPES[dt]
                size = np.dtype(np_t).itemsize
            if offset + count * size > len(data):
                raise ConversionError(f"weight {name}: weight data ends early")
            raw = np.frombuffer(data, dtype=np_t, count=count, offset=offset)
            if q:
                # tfjs: float32(q * scale + min), the arithmetic done in double.
                vals = (raw.astype(np.float64) * float(q["scale"]) + float(q["min"])).astype(np.float32)
            else:
                vals = raw.astype(np.float32)
            offset += count * size
            if name in out:
                raise ConversionError(f"weight {name} appears twice in the weights manifest")
            out[name] = torch.from_numpy(vals.copy()).reshape(shape)
    if offset != len(data):
        raise ConversionError(
            f"weight data has {len(data)} bytes but the weights manifest describes {offset}"
        )
    return out


class _Weights:
    """Hands out weights by name and remembers which ones were used."""

    def __init__(self, weights):
        self.all = weights
        self.used = set()

    def take(self, layer, param, shape, optional=False):
        name = f"{layer}/{param}"
        t = self.all.get(name)
        if t is None:
            if optional:
                return None
            raise ConversionError(f"layer {layer}: weight {name} is missing from the manifest")
        if list(t.shape) != list(shape):
            raise ConversionError(
                f"layer {layer}: weight {name} has shape {list(t.shape)}, expected {list(shape)}"
            )
        self.used.add(name)
        return t.clone()

    def check_all_used(self):
        unused = [n for n in self.all if n not in self.used]
        if unused:
            more = f" (and {len(unused) - 5} more)" if len(unused) > 5 else ""
            raise ConversionError(
                f"{len(unused)} weight(s) in the manifest are used by no layer: "
                f"{', '.join(unused[:5])}{more}"
            )


# --- helpers ------------------------------------------------------------------------------------


def _pair(v, what, layer):
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) for x in v):
        return (v[0], v[1])
    raise ConversionError(f"layer {layer}: {what} {v!r} is not an int or a pair of ints")


def _same_pads(size, k, s, d):
    """TensorFlow's "same" padding along one axis: (before, after); more goes after."""
    eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def _check_channels_last(cfg, layer):
    fmt = cfg.get("data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise ConversionError(f"layer {layer}: data_format {fmt!r} is not supported (channels_last only)")


def _torch_axis(axis, rank, layer):
    """Keras axis of a channels_last tensor -> torch dim of the NCHW tensor."""
    if axis < 0:
        axis += rank
    if rank == 4:
        return {0: 0, 1: 2, 2: 3, 3: 1}[axis]
    if rank == 2 and axis in (0, 1):
        return axis
    raise ConversionError(f"layer {layer}: axis {axis} of a rank-{rank} tensor is not supported")


class _Act(nn.Module):
    """A Keras activation by name."""

    NAMES = ("linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "elu", "softplus", "selu")

    def __init__(self, name, layer):
        super().__init__()
        if name not in self.NAMES:
            raise ConversionError(f"layer {layer}: activation {name!r} is not supported")
        self.name = name

    def forward(self, x):
        n = self.name
        if n == "linear":
            return x
        if n == "relu":
            return F.relu(x)
        if n == "relu6":
            return F.relu6(x)
        if n == "sigmoid":
            return torch.sigmoid(x)
        if n == "tanh":
            return torch.tanh(x)
        if n == "softmax":  # Keras: last axis, which is dim 1 for NCHW and for [N, F]
            return F.softmax(x, dim=1)
        if n == "elu":
            return F.elu(x)
        if n == "selu":
            return F.selu(x)
        return F.softplus(x)


# --- layers: each builder gets (name, config, input shapes (NCHW), weights) -> nn.Module --------


class _Identity(nn.Module):
    def forward(self, x):
        return x


class _Pad(nn.Module):
    def __init__(self, pads, value=0.0):
        super().__init__()
        self.pads, self.value = tuple(pads), value  # (left, right, top, bottom)

    def forward(self, x):
        return F.pad(x, self.pads, value=self.value)


class _Conv(nn.Module):
    def __init__(self, weight, bias, stride, dilation, pads, groups, act):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)
        self.stride, self.dilation, self.groups = stride, dilation, groups
        left, right, top, bottom = pads
        if left == right and top == bottom:
            self.pre, self.padding = None, (top, left)
        else:
            self.pre, self.padding = _Pad(pads), (0, 0)
        self.act = act

    def forward(self, x):
        if self.pre is not None:
            x = self.pre(x)
        x = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return self.act(x)


def _conv_pads(cfg, in_hw, k, s, d, layer):
    pad = cfg.get("padding", "valid")
    if pad == "valid":
        return (0, 0, 0, 0)
    if pad == "same":
        top, bottom = _same_pads(in_hw[0], k[0], s[0], d[0])
        left, right = _same_pads(in_hw[1], k[1], s[1], d[1])
        return (left, right, top, bottom)
    raise ConversionError(f"layer {layer}: padding {pad!r} is not supported")


def _conv2d(name, cfg, shapes, w):
    _check_channels_last(cfg, name)
    (n, c, h, wd), = shapes
    k = _pair(cfg["kernel_size"], "kernel_size", name)
    s = _pair(cfg.get("strides", 1), "strides", name)
    d = _pair(cfg.get("dilation_rate", 1), "dilation_rate", name)
    if cfg.get("groups", 1) != 1:
        raise ConversionError(f"layer {name}: groups {cfg['groups']} is not supported")
    if d != (1, 1) and s != (1, 1):
        raise ConversionError(f"layer {name}: dilation with strides is not supported")
    filters = int(cfg["filters"])
    kern = w.take(name, "kernel", [k[0], k[1], c, filters]).permute(3, 2, 0, 1).contiguous()
    bias = w.take(name, "bias", [filters]) if cfg.get("use_bias", True) else None
    act = _Act(cfg.get("activation", "linear"), name)
    return _Conv(kern, bias, s, d, _conv_pads(cfg, (h, wd), k, s, d, name), 1, act)


def _depthwise(name, cfg, shapes, w):
    _check_channels_last(cfg, name)
    (n, c, h, wd), = shapes
    k = _pair(cfg["kernel_size"], "kernel_size", name)
    s = _pair(cfg.get("strides", 1), "strides", name)
    d = _pair(cfg.get("dilation_rate", 1), "dilation_rate", name)
    if d != (1, 1) and s != (1, 1):
        raise ConversionError(f"layer {name}: dilation with strides is not supported")
    m = int(cfg.get("depth_multiplier", 1))
    kern = w.take(name, "depthwise_kernel", [k[0], k[1], c, m])
    # [kh, kw, C, M] -> [C, M, kh, kw] -> [C*M, 1, kh, kw]: output channel c*M + m, as in TF.
    kern = kern.permute(2, 3, 0, 1).reshape(c * m, 1, k[0], k[1]).contiguous()
    bias = w.take(name, "bias", [c * m]) if cfg.get("use_bias", True) else None
    act = _Act(cfg.get("activation", "linear"), name)
    return _Conv(kern, bias, s, d, _conv_pads(cfg, (h, wd), k, s, d, name), c, act)


class _BatchNorm(nn.Module):
    def __init__(self, mean, var, gamma, beta, eps):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("var", var)
        self.register_buffer("gamma", gamma)
        self.register_buffer("beta", beta)
        self.eps = eps

    def forward(self, x):
        return F.batch_norm(x, self.mean, self.var, self.gamma, self.beta, False, 0.0, self.eps)


def _batchnorm(name, cfg, shapes, w):
    (shape,) = shapes
    axis = cfg.get("axis", -1)
    if isinstance(axis, list):
        if len(axis) != 1:
            raise ConversionError(f"layer {name}: axis {axis} is not supported")
        axis = axis[0]
    if _torch_axis(axis, len(shape), name) != 1:
        raise ConversionError(f"layer {name}: normalising axis {axis} (not channels) is not supported")
    c = shape[1]
    gamma = w.take(name, "gamma", [c]) if cfg.get("scale", True) else torch.ones(c)
    beta = w.take(name, "beta", [c]) if cfg.get("center", True) else torch.zeros(c)
    mean = w.take(name, "moving_mean", [c])
    var = w.take(name, "moving_variance", [c])
    return _BatchNorm(mean, var, gamma, beta, float(cfg.get("epsilon", 1e-3)))


class _ReLU6(nn.Module):
    """keras.layers.ReLU(max_value): min(max(x, 0), max_value)."""

    def __init__(self, max_value):
        super().__init__()
        self.max_value = max_value

    def forward(self, x):
        # Both bounds given: optimize_for_inference (libtorch 1.13) fails an internal assert on a
        # clamp whose min is None.
        if self.max_value is None:
            return F.relu(x)
        return torch.clamp(x, 0.0, self.max_value)


def _relu(name, cfg, shapes, w):
    for key in ("negative_slope", "threshold"):
        if float(cfg.get(key, 0.0) or 0.0) != 0.0:
            raise ConversionError(f"layer {name}: ReLU with {key}={cfg[key]} is not supported")
    mv = cfg.get("max_value")
    return _ReLU6(None if mv is None else float(mv))


def _activation(name, cfg, shapes, w):
    return _Act(cfg.get("activation"), name)


def _zero_padding(name, cfg, shapes, w):
    _check_channels_last(cfg, name)
    p = cfg.get("padding", 1)
    if isinstance(p, int):
        (top, bottom), (left, right) = (p, p), (p, p)
    elif isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) for x in p):
        (top, bottom), (left, right) = (p[0], p[0]), (p[1], p[1])
    elif isinstance(p, list) and len(p) == 2 and all(isinstance(x, list) and len(x) == 2 for x in p):
        (top, bottom), (left, right) = p
    else:
        raise ConversionError(f"layer {name}: padding {p!r} is not supported")
    return _Pad((left, right, top, bottom))


class _AvgPool(nn.Module):
    def __init__(self, k, s, pads, in_hw):
        super().__init__()
        self.k, self.s = k, s
        left, right, top, bottom = pads
        if left == right and top == bottom and top <= k[0] // 2 and left <= k[1] // 2:
            # Keras averages over the window's pixels inside the image only.
            self.pads, self.padding = None, (top, left)
            self.register_buffer("count", torch.zeros(0))
        else:
            # Asymmetric "same": sum over the zero-padded input, divide by the in-image count.
            self.pads, self.padding = pads, (0, 0)
            ones = F.pad(torch.ones(1, 1, in_hw[0], in_hw[1]), pads)
            count = F.avg_pool2d(ones, k, s, divisor_override=1)
            self.register_buffer("count", count)

    def forward(self, x):
        if self.pads is None:
            return F.avg_pool2d(x, self.k, self.s, self.padding, count_include_pad=False)
        x = F.pad(x, self.pads)
        return F.avg_pool2d(x, self.k, self.s, divisor_override=1) / self.count


class _MaxPool(nn.Module):
    def __init__(self, k, s, pads):
        super().__init__()
        self.k, self.s, self.pads = k, s, pads

    def forward(self, x):
        if self.pads != (0, 0, 0, 0):
            x = F.pad(x, self.pads, value=float("-inf"))
        return F.max_pool2d(x, self.k, self.s)


def _pool(kind):
    def build(name, cfg, shapes, w):
        _check_channels_last(cfg, name)
        (n, c, h, wd), = shapes
        k = _pair(cfg.get("pool_size", 2), "pool_size", name)
        s = _pair(cfg.get("strides") or k, "strides", name)
        pads = _conv_pads(cfg, (h, wd), k, s, (1, 1), name)
        return _AvgPool(k, s, pads, (h, wd)) if kind == "avg" else _MaxPool(k, s, pads)

    return build


class _GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def _global_avg(name, cfg, shapes, w):
    _check_channels_last(cfg, name)
    if cfg.get("keepdims", False):
        raise ConversionError(f"layer {name}: keepdims=True is not supported")
    return _GlobalAvgPool()


class _Flatten(nn.Module):
    def forward(self, x):
        if x.dim() == 4:  # Keras flattens H, W, C in that order
            x = x.permute(0, 2, 3, 1)
        return torch.flatten(x, 1)


def _flatten(name, cfg, shapes, w):
    _check_channels_last(cfg, name)
    return _Flatten()


class _Dense(nn.Module):
    def __init__(self, weight, bias, act):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)
        self.act = act

    def forward(self, x):
        return self.act(F.linear(x, self.weight, self.bias))


def _dense(name, cfg, shapes, w):
    (shape,) = shapes
    if len(shape) != 2:
        raise ConversionError(f"layer {name}: Dense on a rank-{len(shape)} input is not supported")
    units = int(cfg["units"])
    kern = w.take(name, "kernel", [shape[1], units]).t().contiguous()
    bias = w.take(name, "bias", [units]) if cfg.get("use_bias", True) else None
    return _Dense(kern, bias, _Act(cfg.get("activation", "linear"), name))


class _Add(nn.Module):
    def forward(self, *xs):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y


def _add(name, cfg, shapes, w):
    if len(shapes) < 2 or any(s != shapes[0] for s in shapes):
        raise ConversionError(f"layer {name}: Add needs two or more inputs of one shape, got {shapes}")
    return _Add()


class _Concat(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, dim=self.dim)


def _concatenate(name, cfg, shapes, w):
    ranks = {len(s) for s in shapes}
    if len(ranks) != 1:
        raise ConversionError(f"layer {name}: inputs of different ranks")
    return _Concat(_torch_axis(int(cfg.get("axis", -1)), ranks.pop(), name))


def _dropout(name, cfg, shapes, w):
    return _Identity()  # inference: Dropout passes its input through


LAYERS = {
    "Conv2D": _conv2d,
    "DepthwiseConv2D": _depthwise,
    "BatchNormalization": _batchnorm,
    "ReLU": _relu,
    "Activation": _activation,
    "ZeroPadding2D": _zero_padding,
    "AveragePooling2D": _pool("avg"),
    "MaxPooling2D": _pool("max"),
    "GlobalAveragePooling2D": _global_avg,
    "Flatten": _flatten,
    "Dense": _dense,
    "Add": _add,
    "Concatenate": _concatenate,
    "Dropout": _dropout,
}


# --- the graph ----------------------------------------------------------------------------------


class KerasGraph(nn.Module):
    """Runs the converted layers in topological order. Input: float32 NCHW [N, C, H, W]."""

    def __init__(self, input_key, plan, layers, output_key):
        super().__init__()
        self.input_key = input_key
        self.plan = plan  # [(key, [input keys])], in an order where inputs come first
        self.layers = nn.ModuleDict(layers)
        self.output_key = output_key

    def forward(self, x):
        vals = {self.input_key: x}
        for key, ins in self.plan:
            vals[key] = self.layers[key](*[vals[i] for i in ins])
        return vals[self.output_key]


class FixedInput(nn.Module):
    """Wraps a traced graph (which only works at the size it was traced for) with a check that
    names the expected input shape, instead of failing somewhere deep inside. Script it:
    torch.jit.script(FixedInput(traced, 3, 224, 224))."""

    def __init__(self, net, channels: int, height: int, width: int):
        super().__init__()
        self.net = net
        self.channels, self.height, self.width = channels, height, width

    def forward(self, x):
        if x.dim() != 4 or x.size(1) != self.channels or x.size(2) != self.height or x.size(3) != self.width:
            raise RuntimeError(
                "this model takes input [N, " + str(self.channels) + ", " + str(self.height) + ", "
                + str(self.width) + "] (N, C, H, W), got " + str(x.shape)
            )
        return self.net(x)


def _key(name):
    return "l_" + re.sub(r"[^0-9A-Za-z_]", "_", name)


def _inbound(layer):
    """The names of a layer's inputs (Keras 2 / tfjs-layers format: one inbound node)."""
    nodes = layer.get("inbound_nodes", [])
    name = layer.get("name") or layer["config"].get("name")
    if not nodes:
        return []
    if len(nodes) != 1:
        raise ConversionError(f"layer {name}: shared layers (called {len(nodes)} times) are not supported")
    names = []
    for entry in nodes[0]:
        if not isinstance(entry, list) or len(entry) < 3:
            raise ConversionError(f"layer {name}: inbound node format {entry!r} is not supported")
        src, node_index, tensor_index = entry[0], entry[1], entry[2]
        if node_index != 0 or tensor_index != 0:
            raise ConversionError(f"layer {name}: input {src} node {node_index} tensor {tensor_index} is not supported")
        names.append(src)
    return names


def _input_hw(cfg, height, width, name):
    shape = cfg.get("batch_input_shape") or cfg.get("batchInputShape")
    if not shape or len(shape) != 4:
        raise ConversionError(f"input layer {name}: batch_input_shape {shape!r} is not [N, H, W, C]")
    _, h, w, c = shape
    if (h is not None and h != height) or (w is not None and w != width):
        raise ConversionError(f"input layer {name}: model input is {h}x{w}, asked to build for {height}x{width}")
    return int(c)


def build_model(topology, weights, height, width):
    """topology: the tfjs "modelTopology" (Keras JSON). weights: {name: tensor} (read_weights).
    Returns a KerasGraph in eval mode for inputs [N, C, height, width]. Every weight must be used
    by some layer. Raises ConversionError naming the layer or weight at fault."""
    mc = topology.get("model_config", topology)
    cls, cfg = mc.get("class_name"), mc.get("config")
    if cls == "Sequential":
        layer_list = cfg["layers"] if isinstance(cfg, dict) else cfg
        layers_cfg, prev = [], None
        for i, l in enumerate(layer_list):
            name = l["config"].get("name") or f"layer_{i}"
            if i == 0 and l["class_name"] != "InputLayer":
                inp = {"class_name": "InputLayer", "name": name + "_input",
                       "config": {"batch_input_shape": l["config"].get("batch_input_shape")}}
                layers_cfg.append(inp)
                prev = inp["name"]
            entry = {"class_name": l["class_name"], "name": name, "config": l["config"],
                     "inbound_nodes": [[[prev, 0, 0, {}]]] if prev else []}
            layers_cfg.append(entry)
            prev = name
        inputs, outputs = [layers_cfg[0]["name"]], [prev]
    elif cls in ("Model", "Functional"):
        layers_cfg = cfg["layers"]
        inputs = [x[0] for x in cfg["input_layers"]]
        outputs = [x[0] for x in cfg["output_layers"]]
    else:
        raise ConversionError(f"model class {cls!r} is not supported (Sequential or Model)")
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConversionError(f"models with {len(inputs)} inputs and {len(outputs)} outputs are not supported (1 and 1)")

    w = _Weights(weights)
    shapes, plan, modules = {}, [], {}
    pending = list(layers_cfg)
    while pending:  # Keras lists layers in a valid order; loop anyway in case it does not
        progressed = False
        for l in list(pending):
            name = l.get("name") or l["config"]["name"]
            ins = _inbound(l)
            if any(i not in shapes for i in ins):
                continue
            pending.remove(l)
            progressed = True
            kind = l["class_name"]
            if kind == "InputLayer":
                if name != inputs[0]:
                    raise ConversionError(f"input layer {name} is not the model's input {inputs[0]}")
                c = _input_hw(l["config"], height, width, name)
                shapes[name] = (1, c, height, width)
                continue
            if not ins:
                raise ConversionError(f"layer {name} ({kind}) has no inputs")
            builder = LAYERS.get(kind)
            if builder is None:
                raise ConversionError(
                    f"layer {name}: layer type {kind} is not supported "
                    f"(supported: InputLayer, {', '.join(sorted(LAYERS))})"
                )
            in_shapes = [shapes[i] for i in ins]
            if kind not in ("Add", "Concatenate") and len(ins) != 1:
                raise ConversionError(f"layer {name} ({kind}) has {len(ins)} inputs, expected 1")
            mod = builder(name, l["config"], in_shapes, w).eval()
            with torch.no_grad():
                try:
                    y = mod(*[torch.zeros(s) for s in in_shapes])
                except RuntimeError as e:
                    raise ConversionError(f"layer {name} ({kind}): cannot run on input {in_shapes}: {e}") from None
            key = _key(name)
            if key in modules:
                raise ConversionError(f"layer {name}: two layers map to the module name {key}")
            modules[key] = mod
            plan.append((key, [_key(i) for i in ins]))
            shapes[name] = tuple(y.shape)
        if not progressed:
            names = [l.get("name") or l["config"]["name"] for l in pending]
            raise ConversionError(f"layers whose inputs never appear (a cycle or a missing layer): {names[:5]}")
    if outputs[0] not in shapes:
        raise ConversionError(f"output layer {outputs[0]} is not in the model")
    w.check_all_used()
    net = KerasGraph(_key(inputs[0]), plan, modules, _key(outputs[0]))
    net.output_shape = shapes[outputs[0]]
    return net.eval()


def count_params(net):
    return sum(math.prod(p.shape) for p in net.parameters()) + sum(
        math.prod(b.shape) for b in net.buffers()
    )
