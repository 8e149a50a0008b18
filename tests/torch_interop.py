"""torch_interop.py - tools/cnnh_torch.py against cnn.h itself: a model converted either way
gives the same predictions in PyTorch and in cnn.h (tools/npy_predict.c) on the same inputs,
within 1e-5 of the largest output. Run by tests/torch_interop.sh, which builds npy_predict.

usage: python3 tests/torch_interop.py path/to/npy_predict work_dir"""
import os
import subprocess
import sys
import traceback

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import cnnh_torch  # noqa: E402

PREDICT, WORK = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
passed = failed = 0


def test(fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print("ok   " + fn.__name__)
    except Exception:
        failed += 1
        print("FAIL " + fn.__name__)
        traceback.print_exc(limit=3, file=sys.stdout)
    return fn


def cnn_predict(model_path, x):
    """cnn.h's outputs for the batch x (numpy N x C x H x W) through npy_predict."""
    xin, yout = os.path.join(WORK, "x.npy"), os.path.join(WORK, "y.npy")
    np.save(xin, np.ascontiguousarray(x, dtype="<f4"))
    if os.path.exists(yout):
        os.remove(yout)
    subprocess.run([PREDICT, model_path, xin, yout, str(x.shape[0])], check=True)
    return np.load(yout)


def torch_predict(seq, x):
    seq.eval()
    with torch.no_grad():
        return seq(torch.from_numpy(x)).numpy()


def assert_close(a, b, what):
    assert a.shape == b.shape, "%s: shapes %s and %s" % (what, a.shape, b.shape)
    scale = float(np.abs(b).max())
    err = float(np.abs(a - b).max())
    assert scale > 1e-3, "%s: outputs are all near zero (%g): nothing is compared" % (what, scale)
    assert err <= 1e-5 * scale, "%s: max difference %g, allowed %g (1e-5 of %g)" % (what, err, 1e-5 * scale, scale)


def randomise(seq, seed):
    """Non-zero biases and weights of a useful size, from a fixed seed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in seq.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if p.dim() == 1 else (1.0 / p[0].numel()) ** 0.5))
    return seq.eval()


def inputs(shape, n, seed):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n,) + shape).astype(np.float32)


# Every padding, stride, dilation, pooling flag and activation the format stores.
def model_a():
    return randomise(nn.Sequential(
        nn.ZeroPad2d((0, 1, 1, 0)),
        nn.Conv2d(2, 6, 3, stride=2),
        nn.LeakyReLU(0.2),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(6, 8, (3, 2), padding=(1, 0), dilation=(1, 2)),
        nn.Tanh(),
        nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        nn.Sigmoid(),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(8 * 3 * 1, 10),
        nn.ReLU(),
        nn.Linear(10, 4, bias=False),
    ), 1)


def model_b():
    return randomise(nn.Sequential(
        nn.Conv2d(3, 5, 3, padding="same", bias=False),
        nn.Identity(),
        nn.AvgPool2d(2, stride=2, padding=1, ceil_mode=True, count_include_pad=True),
        nn.LeakyReLU(0.0),
        nn.Conv2d(5, 7, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(7, 3),
        nn.Sigmoid(),
    ), 2)


@test
def cnn_model_file_runs_the_same_in_torch():
    path = "tests/data/model_v1.cnn"
    seq = cnnh_torch.load_torch(path)
    x = inputs(seq.cnn_input, 5, 3)
    assert_close(torch_predict(seq, x), cnn_predict(path, x), "model_v1.cnn")


@test
def model_file_reads_and_writes_back_byte_for_byte():
    # The version-1 file comes back as version 2 (the format the tool writes), describing the
    # same network: the same records (a version-1 record is the first 20 fields), the same
    # tensors, the same predictions in cnn.h; and a version-2 file round-trips byte for byte.
    path = os.path.join(WORK, "copy.cnn")
    v1 = cnnh_torch.read_model("tests/data/model_v1.cnn")
    cnnh_torch.write_model(path, v1)
    v2 = cnnh_torch.read_model(path)
    assert open(path, "rb").read()[8:12] == b"\x02\x00\x00\x00"
    assert v2["layers"] == v1["layers"] and v2["input"] == v1["input"] and v2["loss"] == v1["loss"]
    assert all((a == b).all() for a, b in zip(v1["tensors"], v2["tensors"])) and len(v1["tensors"]) == len(v2["tensors"])
    x = inputs(v1["input"], 3, 5)
    assert_close(cnn_predict(path, x), cnn_predict("tests/data/model_v1.cnn", x), "version 2 copy")
    again = os.path.join(WORK, "copy2.cnn")
    cnnh_torch.write_model(again, v2)
    assert open(again, "rb").read() == open(path, "rb").read()


def torch_both_ways(name, seq, shape):
    path = os.path.join(WORK, name + ".cnn")
    cnnh_torch.save_torch(seq, path, shape)
    x = inputs(shape, 6, 4)
    expect = torch_predict(seq, x)
    assert_close(cnn_predict(path, x), expect, name + " in cnn.h")
    back = cnnh_torch.load_torch(path)
    assert_close(torch_predict(back, x), expect, name + " back in torch")


@test
def torch_model_a_runs_the_same_in_cnn_h():
    torch_both_ways("model_a", model_a(), (2, 13, 11))


@test
def torch_model_b_runs_the_same_in_cnn_h():
    torch_both_ways("model_b", model_b(), (3, 10, 9))


@test
def activations_after_conv_and_linear_are_fused():
    m = cnnh_torch.torch_to_model(model_a(), (2, 13, 11))
    kinds = [r[0] for r in m["layers"]]
    # conv+leaky, pool, conv+tanh, pool, sigmoid, dropout, flatten, dense+relu, dense
    assert kinds == [1, 2, 1, 2, 5, 6, 7, 4, 4], kinds
    assert m["layers"][0][1] == 2 and m["layers"][2][1] == 4 and m["layers"][7][1] == 1
    assert m["layers"][0][12:16] == [1, 0, 0, 1], m["layers"][0][12:16]


@test
def unknown_modules_are_refused_by_name():
    for seq, words in ((nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), "module 1 (BatchNorm2d)"),
                       (nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), "groups"),
                       (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(72, 2)), "Flatten"),
                       (nn.Sequential(nn.Conv2d(3, 2, 3)), "in_channels 3")):
        try:
            cnnh_torch.torch_to_model(seq, (1, 8, 8))
        except cnnh_torch.FormatError as e:
            assert words in str(e), str(e)
        else:
            raise AssertionError("%s was accepted" % seq)


@test
def damaged_model_file_is_refused():
    data = bytearray(open("tests/data/model_v1.cnn", "rb").read())
    data[200] ^= 1
    path = os.path.join(WORK, "damaged.cnn")
    open(path, "wb").write(data)
    try:
        cnnh_torch.read_model(path)
    except cnnh_torch.FormatError as e:
        assert "checksum" in str(e)
    else:
        raise AssertionError("a damaged file was read")


print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
