#!/usr/bin/env python3
"""cnnh_torch.py - cnn.h model files to and from PyTorch torch.nn.Sequential.

usage:
    python3 tools/cnnh_torch.py to-torch   model.cnn model.pt        # torch.save of the Sequential
    python3 tools/cnnh_torch.py from-torch model.pt  model.cnn --input C,H,W [--loss mse]
    python3 tools/cnnh_torch.py to-onnx    model.cnn model.onnx      # needs the onnx package
    python3 tools/cnnh_torch.py show       model.cnn                 # the layers, as torch modules

or as a module (tools/ on sys.path):
    import cnnh_torch
    seq = cnnh_torch.load_torch("model.cnn")          # torch.nn.Sequential, eval mode
    cnnh_torch.save_torch(seq, "model.cnn", (1, 28, 28))

Needs torch and numpy (Debian: apt-get install python3-torch python3-numpy). The model file
format is described in docs/design.md; this reader and writer are written from it and check its
CRC-32. Weights move without conversion: cnn.h's layouts (conv KCRS, dense (out, in) with the
input flattened in C, H, W order) are PyTorch's.

cnn.h -> torch: a conv or dense layer with a fused activation becomes Conv2d/Linear followed by
the activation module; padding that differs between the two sides becomes a ZeroPad2d before
the Conv2d; global average (max) pooling becomes AdaptiveAvgPool2d(1) (AdaptiveMaxPool2d(1)) +
Flatten (cnn.h's output of that layer is a vector); upsampling becomes nn.Upsample with the
scale or the size it was given; a dense layer after a feature map gets the Flatten cnn.h does
implicitly. The loss is kept as the attribute `cnn_loss` ("cross_entropy" or "mse").

torch -> cnn.h: the modules cnn.h has: Conv2d (any groups, zero padding; int, tuple, "valid" or
"same"), ConvTranspose2d (zero padding, any groups, output_padding, dilation; no output_size at
call time), ZeroPad2d right before a Conv2d, MaxPool2d (dilation 1), AvgPool2d (no
divisor_override), AdaptiveAvgPool2d(1), AdaptiveMaxPool2d(1), Upsample (and
UpsamplingNearest2d, UpsamplingBilinear2d: modes nearest and bilinear, integer scale factors or
an output size), Linear, ReLU, LeakyReLU, Sigmoid, Tanh, Dropout, Flatten, Identity,
BatchNorm2d and BatchNorm1d (affine, with running statistics and a momentum; a batch norm in
cnn.h is BatchNorm2d after a feature map, BatchNorm1d after a vector). An activation right after
a Conv2d or Linear is fused into it. Anything else is refused with the module's index and name.
"""
import struct
import sys
import zlib

MAGIC = b"CNNH\r\n\x1a\n"
FILE_VERSION = 2                 # written; versions 1 and 2 are read
FIELDS = 32                      # fields of a layer record (version 1: the first 20)
FIELDS_V1 = 20
CONV, POOL, GLOBAL_AVGPOOL, DENSE, ACTIVATION, DROPOUT, FLATTEN, CONV_TRANSPOSE = 1, 2, 3, 4, 5, 6, 7, 8
UPSAMPLE, GLOBAL_MAXPOOL, BATCHNORM = 9, 10, 11
UPSAMPLE_MODES = {0: "nearest", 1: "bilinear"}
ACT_NONE, ACT_RELU, ACT_LEAKY, ACT_SIGMOID, ACT_TANH = 0, 1, 2, 3, 4
LOSSES = {0: "cross_entropy", 1: "mse"}


class FormatError(ValueError):
    pass


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def bits_f32(u):
    return struct.unpack("<f", struct.pack("<I", u))[0]


# ---- the model file -------------------------------------------------------------------------

def read_model(path):
    """The file as a dict: loss, input (c, h, w), layers (lists of 32 ints; a version-1 file's
    records are padded with zeros, which mean the later fields' defaults), tensors (numpy
    arrays, in file order)."""
    import numpy as np
    data = open(path, "rb").read()
    if data[:8] != MAGIC:
        raise FormatError("%s: not a cnn.h model file (wrong magic bytes)" % path)
    if len(data) < 36:
        raise FormatError("%s: the file ends in its header" % path)
    stored = struct.unpack_from("<I", data, len(data) - 4)[0]
    if zlib.crc32(data[:-4]) & 0xFFFFFFFF != stored:
        raise FormatError("%s: checksum mismatch: the file is damaged or truncated" % path)
    at = 8

    def u32(n=1):
        nonlocal at
        if at + 4 * n > len(data) - 4:
            raise FormatError("%s: the file ends early" % path)
        v = struct.unpack_from("<%dI" % n, data, at)
        at += 4 * n
        return v

    (version,) = u32()
    if version < 1 or version > FILE_VERSION:
        raise FormatError("%s: format version %d, this tool reads versions 1 to %d" % (path, version, FILE_VERSION))
    fields = FIELDS_V1 if version == 1 else FIELDS
    loss, c, h, w, count = u32(5)
    layers = [list(u32(fields)) + [0] * (FIELDS - fields) for _ in range(count)]
    def tensor():
        nonlocal at
        (ndim,) = u32()
        dims = u32(ndim)
        n = int(np.prod(dims)) if dims else 1
        if at + 4 * n > len(data) - 4:
            raise FormatError("%s: the file ends in a tensor" % path)
        t = np.frombuffer(data, dtype="<f4", count=n, offset=at).reshape(dims).copy()
        at += 4 * n
        return t

    (ntensors,) = u32()
    tensors = [tensor() for _ in range(ntensors)]
    if version >= 2:
        # The optimizer section: state kind (0 none, 1 SGD velocity, 2 Adam's moments), step
        # count, then the state tensors, each stored like a tensor. PyTorch keeps optimizer
        # state apart from the model, so they are read past, not returned.
        kind, _step = u32(2)
        if kind > 2:
            raise FormatError("%s: optimizer state of kind %d" % (path, kind))
        while kind and at < len(data) - 4:
            tensor()
    if at != len(data) - 4:
        raise FormatError("%s: unexpected bytes before the checksum" % path)
    return {"loss": LOSSES.get(loss, loss), "input": (c, h, w), "layers": layers, "tensors": tensors}


def write_model(path, model):
    """Writes the dict read_model returns (layers as 32-int records, tensors in file order) in
    format version 2."""
    import numpy as np
    loss = {v: k for k, v in LOSSES.items()}[model["loss"]]
    out = bytearray(MAGIC)
    out += struct.pack("<6I", FILE_VERSION, loss, *model["input"], len(model["layers"]))
    for r in model["layers"]:
        r = list(r) + [0] * (FIELDS - len(r))
        out += struct.pack("<%dI" % FIELDS, *r)
    out += struct.pack("<I", len(model["tensors"]))
    for t in model["tensors"]:
        t = np.ascontiguousarray(t, dtype="<f4")
        if not np.isfinite(t).all():
            raise FormatError("a tensor holds NaN or infinite values; cnn.h refuses them")
        out += struct.pack("<%dI" % (1 + t.ndim), t.ndim, *t.shape)
        out += t.tobytes()
    out += struct.pack("<2I", 0, 0)       # the optimizer section: no state, no steps taken
    out += struct.pack("<I", zlib.crc32(bytes(out)) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(out)


# ---- cnn.h -> torch ---------------------------------------------------------------------------

def _activation_module(act, alpha_bits):
    import torch.nn as nn
    if act == ACT_NONE:
        return None
    if act == ACT_RELU:
        return nn.ReLU()
    if act == ACT_LEAKY:
        alpha = bits_f32(alpha_bits)
        # 0 in a record means cnn.h's default slope 0.01; -0.0 (CNN_ALPHA_ZERO) means 0.
        if alpha == 0.0:
            alpha = 0.0 if alpha_bits == 0x80000000 else 0.01
        return nn.LeakyReLU(alpha)
    if act == ACT_SIGMOID:
        return nn.Sigmoid()
    if act == ACT_TANH:
        return nn.Tanh()
    raise FormatError("unknown activation %d" % act)


def model_to_torch(model):
    import torch
    import torch.nn as nn
    c, h, w = model["input"]
    flat = False
    mods = []
    tensors = iter(model["tensors"])
    for i, r in enumerate(model["layers"]):
        kind, act, alpha_bits, rate_bits, has_bias = r[0], r[1], r[2], r[3], r[4]
        if kind == CONV:
            k, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = r[5:16]
            weight = next(tensors)
            bias = next(tensors) if has_bias else None
            if pt == pb and pl == pr:
                padding = (pt, pl)
            else:
                mods.append(nn.ZeroPad2d((pl, pr, pt, pb)))
                padding = (0, 0)
            conv = nn.Conv2d(c, k, (kh, kw), stride=(sh, sw), padding=padding, dilation=(dh, dw), bias=bool(has_bias),
                             groups=max(r[19], 1))
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(weight))
                if has_bias:
                    conv.bias.copy_(torch.from_numpy(bias))
            mods.append(conv)
            h = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
            w = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
            c = k
        elif kind == CONV_TRANSPOSE:
            k, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr = r[5:16]
            oph, opw = r[20], r[21]
            if pt != pb or pl != pr:
                raise FormatError("layer %d: a transposed convolution with padding %d,%d,%d,%d" % (i, pt, pb, pl, pr))
            weight = next(tensors)
            bias = next(tensors) if has_bias else None
            conv = nn.ConvTranspose2d(c, k, (kh, kw), stride=(sh, sw), padding=(pt, pl), output_padding=(oph, opw),
                                      dilation=(dh, dw), groups=max(r[19], 1), bias=bool(has_bias))
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(weight))
                if has_bias:
                    conv.bias.copy_(torch.from_numpy(bias))
            mods.append(conv)
            h = (h - 1) * sh - 2 * pt + dh * (kh - 1) + oph + 1
            w = (w - 1) * sw - 2 * pl + dw * (kw - 1) + opw + 1
            c = k
        elif kind == POOL:
            kh, kw, sh, sw = r[6:10]
            pt, pb, pl, pr = r[12:16]
            pool_kind, ceil_mode, count_pad = r[16], r[17], r[18]
            if pt != pb or pl != pr:
                raise FormatError("layer %d: pooling with padding %d,%d,%d,%d differs between sides; torch pools pad both sides alike" % (i, pt, pb, pl, pr))
            if pool_kind == 0:
                mods.append(nn.MaxPool2d((kh, kw), (sh, sw), (pt, pl), ceil_mode=bool(ceil_mode)))
            else:
                mods.append(nn.AvgPool2d((kh, kw), (sh, sw), (pt, pl), ceil_mode=bool(ceil_mode), count_include_pad=bool(count_pad)))
            h, w = _pool_out(h, kh, sh, pt + pb, pt, ceil_mode), _pool_out(w, kw, sw, pl + pr, pl, ceil_mode)
        elif kind == GLOBAL_AVGPOOL:
            mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            flat, h, w = True, 1, 1
        elif kind == GLOBAL_MAXPOOL:
            mods += [nn.AdaptiveMaxPool2d(1), nn.Flatten()]
            flat, h, w = True, 1, 1
        elif kind == UPSAMPLE:
            mode, ac, sch, scw, oh, ow = r[22:28]
            if mode not in UPSAMPLE_MODES:
                raise FormatError("layer %d: unknown upsampling mode %d" % (i, mode))
            ac = bool(ac) if mode == 1 else None
            if sch:   # an integer scale: PyTorch's positions i / scale are cnn.h's i * in / out
                mods.append(nn.Upsample(scale_factor=(float(sch), float(scw)), mode=UPSAMPLE_MODES[mode], align_corners=ac))
            else:
                mods.append(nn.Upsample(size=(oh, ow), mode=UPSAMPLE_MODES[mode], align_corners=ac))
            h, w = oh, ow
        elif kind == DENSE:
            units = r[5]
            weight = next(tensors)
            bias = next(tensors) if has_bias else None
            if not flat:
                mods.append(nn.Flatten())
                flat = True
            lin = nn.Linear(c * h * w, units, bias=bool(has_bias))
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(weight))
                if has_bias:
                    lin.bias.copy_(torch.from_numpy(bias))
            mods.append(lin)
            c, h, w = units, 1, 1
        elif kind == ACTIVATION:
            mods.append(_activation_module(act, alpha_bits) or nn.Identity())
            act = ACT_NONE
        elif kind == DROPOUT:
            mods.append(nn.Dropout(bits_f32(rate_bits)))
        elif kind == FLATTEN:
            mods.append(nn.Flatten())
            c, h, w, flat = c * h * w, 1, 1, True
        elif kind == BATCHNORM:
            # fields 28, 29: eps and momentum as float bits, 0 meaning the defaults (the bits
            # of -0.0 are a momentum of exactly 0)
            eps = bits_f32(r[28]) if r[28] else 1e-5
            momentum = bits_f32(r[29]) if r[29] else 0.1
            bn = (nn.BatchNorm1d if flat else nn.BatchNorm2d)(c, eps=eps, momentum=abs(momentum))
            with torch.no_grad():
                for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
                    t.copy_(torch.from_numpy(next(tensors)))
            mods.append(bn)
        else:
            raise FormatError("layer %d: unknown layer kind %d" % (i, kind))
        if kind in (CONV, CONV_TRANSPOSE, DENSE):
            m = _activation_module(act, alpha_bits)
            if m is not None:
                mods.append(m)
    seq = nn.Sequential(*mods)
    seq.cnn_loss = model["loss"]
    seq.cnn_input = tuple(model["input"])
    return seq.eval()


def _pool_out(n, k, s, pad_total, pad_before, ceil_mode):
    if not ceil_mode:
        return (n + pad_total - k) // s + 1
    out = -(-(n + pad_total - k) // s) + 1
    # as PyTorch: the last window must start inside the input or the left padding
    if (out - 1) * s >= n + pad_before:
        out -= 1
    return out


def load_torch(path):
    """A cnn.h model file as a torch.nn.Sequential (in eval mode)."""
    return model_to_torch(read_model(path))


# ---- torch -> cnn.h ---------------------------------------------------------------------------

def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _record(kind, **f):
    r = [0] * FIELDS
    r[0] = kind
    names = {"act": 1, "alpha": 2, "rate": 3, "bias": 4, "units": 5, "kh": 6, "kw": 7, "sh": 8, "sw": 9,
             "dh": 10, "dw": 11, "pt": 12, "pb": 13, "pl": 14, "pr": 15, "pool": 16, "ceil": 17, "count_pad": 18,
             "groups": 19, "oph": 20, "opw": 21,
             "mode": 22, "align_corners": 23, "scale_h": 24, "scale_w": 25, "out_h": 26, "out_w": 27}
    if kind in (CONV, CONV_TRANSPOSE):
        r[19] = 1
    for k, v in f.items():
        r[names[k]] = int(v)
    return r


def torch_to_model(seq, input_shape, loss="cross_entropy"):
    """The model-file dict of a torch.nn.Sequential for inputs of input_shape (C, H, W)."""
    import numpy as np
    import torch.nn as nn
    c, h, w = input_shape
    flat = False
    layers, tensors = [], []
    pending_pad = None
    last_fusable = None          # index in layers of a conv/dense with no activation yet
    mods = list(seq.children()) if isinstance(seq, nn.Sequential) else [seq]

    def refuse(i, m, why):
        raise FormatError("module %d (%s): %s" % (i, type(m).__name__, why))

    for i, m in enumerate(mods):
        if pending_pad is not None and not isinstance(m, nn.Conv2d):
            refuse(i - 1, mods[i - 1], "ZeroPad2d is converted only right before a Conv2d")
        fusable = None
        if isinstance(m, nn.ZeroPad2d):
            pending_pad = tuple(m.padding)  # left, right, top, bottom
            continue
        if isinstance(m, nn.ConvTranspose2d):
            if flat:
                refuse(i, m, "a transposed convolution after the data was flattened")
            if m.padding_mode != "zeros" or isinstance(m.padding, str):
                refuse(i, m, "only zero padding given as numbers exists in cnn.h")
            if m.in_channels != c:
                refuse(i, m, "in_channels %d, but the input has %d channels" % (m.in_channels, c))
            kh, kw = m.kernel_size
            sh, sw = m.stride
            dh, dw = m.dilation
            ph, pw = m.padding
            oph, opw = m.output_padding
            has_bias = m.bias is not None
            layers.append(_record(CONV_TRANSPOSE, bias=has_bias, units=m.out_channels, kh=kh, kw=kw, sh=sh, sw=sw,
                                  dh=dh, dw=dw, pt=ph, pb=ph, pl=pw, pr=pw, groups=m.groups, oph=oph, opw=opw))
            tensors.append(m.weight.detach().cpu().numpy())
            if has_bias:
                tensors.append(m.bias.detach().cpu().numpy())
            h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
            w = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
            c = m.out_channels
            if h < 1 or w < 1:
                refuse(i, m, "an output below 1 x 1")
            fusable = len(layers) - 1
        elif isinstance(m, nn.Conv2d):
            if flat:
                refuse(i, m, "a convolution after the data was flattened")
            if m.padding_mode != "zeros":
                refuse(i, m, "only zero padding exists in cnn.h")
            if m.in_channels != c:
                refuse(i, m, "in_channels %d, but the input has %d channels" % (m.in_channels, c))
            kh, kw = m.kernel_size
            sh, sw = m.stride
            dh, dw = m.dilation
            if isinstance(m.padding, str):
                if m.padding == "valid":
                    pt = pb = pl = pr = 0
                else:  # "same", stride 1: PyTorch puts the odd one at the bottom/right
                    th, tw = dh * (kh - 1), dw * (kw - 1)
                    pt, pl = th // 2, tw // 2
                    pb, pr = th - pt, tw - pl
            else:
                ph, pw = m.padding
                pt = pb = ph
                pl = pr = pw
            if pending_pad is not None:
                pl, pr, pt, pb = pl + pending_pad[0], pr + pending_pad[1], pt + pending_pad[2], pb + pending_pad[3]
                pending_pad = None
            has_bias = m.bias is not None
            layers.append(_record(CONV, bias=has_bias, units=m.out_channels, kh=kh, kw=kw, sh=sh, sw=sw,
                                  dh=dh, dw=dw, pt=pt, pb=pb, pl=pl, pr=pr, groups=m.groups))
            tensors.append(m.weight.detach().cpu().numpy())
            if has_bias:
                tensors.append(m.bias.detach().cpu().numpy())
            h = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
            w = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
            c = m.out_channels
            if h < 1 or w < 1:
                refuse(i, m, "the kernel does not fit in the input")
            fusable = len(layers) - 1
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            if flat:
                refuse(i, m, "pooling after the data was flattened")
            kh, kw = _pair(m.kernel_size)
            sh, sw = _pair(m.stride if m.stride is not None else m.kernel_size)
            ph, pw = _pair(m.padding)
            ceil = bool(m.ceil_mode)
            if isinstance(m, nn.MaxPool2d):
                if _pair(m.dilation) != (1, 1) or m.return_indices:
                    refuse(i, m, "only dilation 1 and no return_indices")
                layers.append(_record(POOL, kh=kh, kw=kw, sh=sh, sw=sw, pt=ph, pb=ph, pl=pw, pr=pw, pool=0, ceil=ceil))
            else:
                if m.divisor_override is not None:
                    refuse(i, m, "divisor_override does not exist in cnn.h")
                layers.append(_record(POOL, kh=kh, kw=kw, sh=sh, sw=sw, pt=ph, pb=ph, pl=pw, pr=pw, pool=1, ceil=ceil,
                                      count_pad=bool(m.count_include_pad)))
            h, w = _pool_out(h, kh, sh, 2 * ph, ph, ceil), _pool_out(w, kw, sw, 2 * pw, pw, ceil)
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            if _pair(m.output_size) != (1, 1) or flat:
                refuse(i, m, "only AdaptiveAvgPool2d(1) (global average pooling) on a feature map")
            layers.append(_record(GLOBAL_AVGPOOL))
            flat, h, w = True, 1, 1
        elif isinstance(m, nn.AdaptiveMaxPool2d):
            if _pair(m.output_size) != (1, 1) or flat or m.return_indices:
                refuse(i, m, "only AdaptiveMaxPool2d(1) (global max pooling) on a feature map, without return_indices")
            layers.append(_record(GLOBAL_MAXPOOL))
            flat, h, w = True, 1, 1
        elif isinstance(m, nn.Upsample):   # also UpsamplingNearest2d, UpsamplingBilinear2d
            if flat:
                refuse(i, m, "upsampling after the data was flattened")
            modes = {v: k for k, v in UPSAMPLE_MODES.items()}
            if m.mode not in modes:
                refuse(i, m, "mode '%s': cnn.h has nearest and bilinear" % m.mode)
            ac = bool(m.align_corners) if m.mode == "bilinear" else False
            if m.size is not None:
                oh, ow = _pair(m.size)
                layers.append(_record(UPSAMPLE, mode=modes[m.mode], align_corners=ac, out_h=oh, out_w=ow))
            else:
                sf = tuple(m.scale_factor) if isinstance(m.scale_factor, (tuple, list)) else (m.scale_factor,) * 2
                if any(float(v) != int(v) or int(v) < 1 for v in sf):
                    refuse(i, m, "scale_factor %s: cnn.h takes whole factors (or give a size)" % (sf,))
                sch, scw = int(sf[0]), int(sf[1])
                oh, ow = h * sch, w * scw
                layers.append(_record(UPSAMPLE, mode=modes[m.mode], align_corners=ac, scale_h=sch, scale_w=scw, out_h=oh, out_w=ow))
            h, w = oh, ow
        elif isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                refuse(i, m, "only Flatten(1, -1)")
            if not flat:  # after global pooling the data is already a vector in cnn.h
                layers.append(_record(FLATTEN))
                c, h, w, flat = c * h * w, 1, 1, True
        elif isinstance(m, nn.Linear):
            if not flat:
                refuse(i, m, "a Linear on a feature map: add nn.Flatten() before it")
            if m.in_features != c * h * w:
                refuse(i, m, "in_features %d, but the input has %d values" % (m.in_features, c * h * w))
            has_bias = m.bias is not None
            layers.append(_record(DENSE, bias=has_bias, units=m.out_features))
            tensors.append(m.weight.detach().cpu().numpy())
            if has_bias:
                tensors.append(m.bias.detach().cpu().numpy())
            c, h, w, flat = m.out_features, 1, 1, True
            fusable = len(layers) - 1
        elif isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh)):
            if isinstance(m, nn.ReLU):
                act, alpha = ACT_RELU, 0
            elif isinstance(m, nn.LeakyReLU):
                slope = float(m.negative_slope)
                # cnn.h reads a stored 0 as its default 0.01; a slope of 0 is stored as -0.0
                act, alpha = ACT_LEAKY, (0x80000000 if slope == 0.0 else f32_bits(slope))
            elif isinstance(m, nn.Sigmoid):
                act, alpha = ACT_SIGMOID, 0
            else:
                act, alpha = ACT_TANH, 0
            if last_fusable is not None:
                layers[last_fusable][1], layers[last_fusable][2] = act, alpha
            else:
                layers.append(_record(ACTIVATION, act=act, alpha=alpha))
        elif isinstance(m, nn.Dropout):
            layers.append(_record(DROPOUT, rate=f32_bits(float(m.p))))
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if isinstance(m, nn.BatchNorm2d) == flat:
                refuse(i, m, "BatchNorm2d goes after a feature map, BatchNorm1d after a vector (of features only)")
            if m.num_features != c:
                refuse(i, m, "num_features %d, but the input has %d %s" % (m.num_features, c, "features" if flat else "channels"))
            if not m.affine or not m.track_running_stats or m.momentum is None:
                refuse(i, m, "only affine=True, track_running_stats=True and a momentum (not None, the cumulative average)")
            if not (0.0 <= float(m.momentum) <= 1.0) or not float(m.eps) > 0.0:
                refuse(i, m, "momentum %g must be in [0, 1] and eps %g above 0" % (m.momentum, m.eps))
            r = _record(BATCHNORM, bias=1)
            r[28] = f32_bits(float(m.eps))
            # cnn.h reads a stored 0 as its default 0.1; a momentum of 0 is stored as -0.0
            r[29] = 0x80000000 if float(m.momentum) == 0.0 else f32_bits(float(m.momentum))
            layers.append(r)
            tensors += [t.detach().cpu().numpy() for t in (m.weight, m.bias, m.running_mean, m.running_var)]
        elif isinstance(m, nn.Identity):
            pass
        else:
            refuse(i, m, "no such layer in cnn.h")
        last_fusable = fusable if fusable is not None else (last_fusable if isinstance(m, nn.Identity) else None)
    if pending_pad is not None:
        raise FormatError("a ZeroPad2d at the end")
    if not layers:
        raise FormatError("no layers")
    if len(layers) > 32:
        print("note: %d layers; cnn.h must be compiled with CNN_MAX_LAYERS >= %d" % (len(layers), len(layers)), file=sys.stderr)
    tensors = [np.ascontiguousarray(t, dtype=np.float32) for t in tensors]
    return {"loss": loss, "input": tuple(input_shape), "layers": layers, "tensors": tensors}


def save_torch(seq, path, input_shape, loss="cross_entropy"):
    """Writes a torch.nn.Sequential as a cnn.h model file for inputs of input_shape (C, H, W)."""
    write_model(path, torch_to_model(seq, input_shape, loss))


# ---- command line -----------------------------------------------------------------------------

def main(argv):
    import argparse
    import torch
    ap = argparse.ArgumentParser(description="cnn.h model files to and from PyTorch")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("to-torch", help="model.cnn -> a torch.save'd torch.nn.Sequential")
    p.add_argument("model"); p.add_argument("out")
    p = sub.add_parser("from-torch", help="a torch.save'd torch.nn.Sequential -> model.cnn")
    p.add_argument("model"); p.add_argument("out")
    p.add_argument("--input", required=True, help="C,H,W of one input image, e.g. 1,28,28")
    p.add_argument("--loss", default="cross_entropy", choices=["cross_entropy", "mse"])
    p = sub.add_parser("to-onnx", help="model.cnn -> ONNX through torch.onnx.export")
    p.add_argument("model"); p.add_argument("out")
    p = sub.add_parser("show", help="print a model file's layers as torch modules")
    p.add_argument("model")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "to-torch":
            torch.save(load_torch(a.model), a.out)
        elif a.cmd == "from-torch":
            seq = torch.load(a.model)
            if isinstance(seq, dict):
                raise FormatError("%s holds a state_dict, not a module: torch.save(model) the Sequential itself" % a.model)
            save_torch(seq, a.out, tuple(int(v) for v in a.input.split(",")), a.loss)
        elif a.cmd == "to-onnx":
            seq = load_torch(a.model)
            torch.onnx.export(seq, torch.zeros((1,) + seq.cnn_input), a.out, input_names=["input"],
                              output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        else:
            print(load_torch(a.model))
    except (FormatError, OSError) as e:
        print("cnnh_torch: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
