"""torch_ref.py: tinyddp's MLP in PyTorch, one copy for the benchmarks (torch_mlp.py,
torch_ddp.py) and the reference test (tests/reference/test_torch_reference.py): a model file's
layer sizes, the same MLP and SGD (ddp_train's defaults), the Fashion-MNIST files as ddp_train
reads them, and one SGD step. Needs numpy and torch (Debian's python3-torch)."""
import argparse
import gzip
import os

import numpy as np
import torch

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An IDX file (or PATH.gz) as a uint8 array of its dimensions."""
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            raw = gzip.open(p).read() if p.endswith(".gz") else open(p, "rb").read()
            nd = raw[3]
            dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
            return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)
    raise FileNotFoundError(path)


def cfg_sizes(path):
    """The layer sizes of a model file (models/*.cfg): input, then each dense layer's units."""
    sizes, cur = [], None
    for line in open(path):
        line = line.split("#")[0].split(";")[0].strip()
        if line.startswith("["):
            cur = line
        elif "=" in line:
            k, v = (s.strip() for s in line.split("=", 1))
            if cur == "[net]" and k == "input":
                sizes.insert(0, int(v))
            if cur == "[dense]" and k == "units":
                sizes.append(int(v))
    return sizes


def mlp(sizes):
    """Linear layers of these sizes with a ReLU between two (torch's default initialisation)."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def sgd(net, lr, momentum=0.9, weight_decay=5e-4):
    return torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)


def mlp_setup(model, lr, wrap=lambda net: net):
    """The MLP of a model file (seeded like every benchmark run), wrapped by `wrap` (e.g. in
    DistributedDataParallel), its SGD (ddp_train's defaults) and loss: sizes, net, opt, lossf."""
    torch.manual_seed(0)
    sizes = cfg_sizes(model)
    net = wrap(mlp(sizes))
    return sizes, net, sgd(net, lr), torch.nn.CrossEntropyLoss()


def load_train(n_in):
    """The Fashion-MNIST training set as ddp_train keeps it: uint8 pixels (rows of n_in), int64
    labels, and the mean and standard deviation that standardise a batch."""
    x_all = torch.from_numpy(read_idx(os.path.join(DATA, "train-images-idx3-ubyte"))
                             .reshape(-1, n_in).copy())
    y_all = torch.from_numpy(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte"))
                             .astype(np.int64))
    mean, std = x_all.float().mean() / 255, (x_all.float() / 255).std()
    return x_all, y_all, mean, std


def standardise(x_u8, mean, std):
    """A batch of uint8 pixels as the benchmarks feed it: float32, standardised."""
    return (x_u8.float() / 255 - mean) / std


def sgd_step(net, opt, lossf, x, y):
    """One step on a batch: gradients, then the optimizer. Returns the loss."""
    opt.zero_grad(set_to_none=True)
    loss = lossf(net(x), y)
    loss.backward()
    opt.step()
    return loss


def bench_parser(steps, warmup, ranks=None):
    """The benchmarks' options (with --np first when `ranks` is its default)."""
    ap = argparse.ArgumentParser()
    if ranks is not None:
        ap.add_argument("--np", type=int, default=ranks)
    ap.add_argument("--model", default="models/fashion-mlp.cfg")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--warmup", type=int, default=warmup)
    ap.add_argument("--lr", type=float, default=0.02)
    return ap


def ctxsw():
    """Voluntary context switches of the calling thread."""
    with open("/proc/thread-self/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches"):
                return int(line.split()[1])
    return 0
