#!/usr/bin/python3
"""bench/compare_torch.py — the PyTorch side of nabla's benchmarks.

Runs the same work as the nabla bench programs, on the same data, in the same
batch order (nabla's loader shuffle, reimplemented below bit for bit), with the
same hyper-parameters, and prints one line per figure:

    RESULT <name> <seconds> <details>

Modes:
  mlp      --data DIR --batch B --epochs E [--hidden 256,128]
           MLP 784-H...-10, ReLU, Adam(lr 1e-3), cross-entropy; tries torch
           threads {1,2} x OpenBLAS threads {1,2} (each in a fresh process,
           since OpenBLAS reads its thread count at load time) and reports
           every configuration and the fastest ("best"). A setting whose
           epochs take over 4 times the best so far stops after two epochs.
  cnn      --data DIR --batch B --epochs E
           the Fashion-MNIST CNN of examples/fashion_mnist_cnn.c: Conv2d(1,16,3,
           pad 1) ReLU MaxPool2d(2) Conv2d(16,32,3,pad 1) ReLU MaxPool2d(2)
           Flatten Linear(1568,128) ReLU Linear(128,10), Adam(lr 1e-3),
           cross-entropy; the same thread settings as mlp, and "cnn_best".
  lstm     --data DIR --batch B --epochs E [--hidden 128] [--images N]
           the LSTM of examples/sequence_mnist.c: each image as 28 steps of
           28 pixels, nn.LSTM(28, H, batch_first=True), the last hidden state
           into Linear(H, 10), Adam(lr 1e-3), cross-entropy, on the first N
           training images (0: all); the same thread settings as mlp, and
           "lstm_best".
  gpt      --text PATH --steps N --batch B --block T
           examples/char_gpt's default model (examples/gpt_model.h):
           wte Embedding(V, 96) + wpe Embedding(T, 96), 3 x
           nn.TransformerEncoderLayer(96, 4, 384, dropout 0, "gelu",
           batch_first, norm_first) under a causal mask, ln_f LayerNorm(96),
           lm_head Linear(96, V, bias=False) tied to wte; AdamW(lr 2e-3) with
           weight decay 0.1 on the matrices and 0 on the rest, gradient norm
           clipped to 1, char_gpt's warm-up and cosine schedule; N steps of B
           windows of T characters at random offsets of the text (read as
           examples/char_data.h reads it). The same thread settings as mlp,
           seconds per step (median, first excluded), its CPU seconds, the
           peak RSS after a few step counts, and "gpt_best".
  housing  --csv PATH --steps N
           y = k2 * sigmoid(k1 * x + b1) + b2 by full-batch gradient descent
           on MSE (the one-neuron housing regression).
  overhead --iters N
           microseconds per recorded op on one-element tensors.
  attention --seq T --reps R [--batch 4] [--heads 4]
           causal self-attention of bench/attention.c, batch B, H heads,
           head_dim 32, the naive way (1.13 has no F.sdpa): softmax(q k^T /
           sqrt(32) masked above the diagonal) v, forward and backward; torch
           threads 1 and 2, each in a fresh process, the median time of each,
           the fastest ("attention_best") and the growth of that process's
           peak resident set over the inputs ("attention_peak_mib").
NABLA_FLUSH_DENORMAL=1 in the environment (nabla's nb_set_flush_denormal) runs
PyTorch under torch.set_flush_denormal(True) too. Run with Debian's python3
(/usr/bin/python3) and python3-torch.
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

MASK = (1 << 64) - 1


class Generator:
    """nabla's nb_generator: xoshiro256** seeded through splitmix64."""

    def __init__(self, seed):
        self.s = []
        x = seed & MASK
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            self.s.append(z ^ (z >> 31))

    def next(self):
        s = self.s
        r = ((s[1] * 5) & MASK)
        r = (((r << 7) | (r >> 57)) & MASK) * 9 & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & MASK
        return r

    def below(self, n):
        limit = MASK - (MASK + 1) % n + 1 if (MASK + 1) % n else MASK + 1
        while True:
            r = self.next()
            if r < limit:
                return r % n


def epoch_order(n, seed, epoch):
    """nb_loader's order for an epoch: reseed with next() + epoch, Fisher-Yates."""
    g = Generator(seed)
    g = Generator((g.next() + epoch) & MASK)
    idx = list(range(n))
    for i in range(n - 1, 0, -1):
        j = g.below(i + 1)
        idx[i], idx[j] = idx[j], idx[i]
    return idx


def read_idx(path):
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"compare_torch.py: {stem}(.gz) not found in {data_dir}")


def train(model, x, y, a):
    """Adam (lr 1e-3) on cross-entropy over nabla's batch order; returns the
    epoch times and the last batch's loss. A setting already several times
    slower than the best one so far cannot become the best: it stops after two
    epochs (--give-up)."""
    import torch
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]
    times = []
    for epoch in range(a.epochs):
        order = torch.tensor(epoch_order(n, a.seed, epoch))
        t0 = time.perf_counter()
        for b in range(0, n - a.batch + 1 if a.drop_last else n, a.batch):
            idx = order[b:b + a.batch]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
        if a.give_up and len(times) >= 2 and min(times[1:]) > a.give_up:
            break
    return times, float(loss)


def images(a, stem, shape):
    import numpy as np
    import torch
    return torch.from_numpy(read_idx(find(a.data, stem)).reshape(shape).astype(np.float32) / 255)


def labels(a, stem):
    import numpy as np
    import torch
    return torch.from_numpy(read_idx(find(a.data, stem)).astype(np.int64))


def run_mlp_child(a):
    import torch
    torch.set_num_threads(a.torch_threads)
    x, y = images(a, "train-images-idx3-ubyte", (-1, 784)), labels(a, "train-labels-idx1-ubyte")
    sizes = [784] + [int(h) for h in a.hidden.split(",")] + [10]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    times, loss = train(torch.nn.Sequential(*layers), x, y, a)
    print(json.dumps({"epoch_times": times, "final_loss": loss}))


def cnn_model(torch):
    """The network of examples/fashion_mnist_cnn.c and bench/cnn.c."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def run_cnn_child(a):
    import torch
    torch.set_num_threads(a.torch_threads)
    torch.manual_seed(a.seed)
    x, y = images(a, "train-images-idx3-ubyte", (-1, 1, 28, 28)), labels(a, "train-labels-idx1-ubyte")
    model = cnn_model(torch)
    times, loss = train(model, x, y, a)
    xt, yt = images(a, "t10k-images-idx3-ubyte", (-1, 1, 28, 28)), labels(a, "t10k-labels-idx1-ubyte")
    with torch.no_grad():
        acc = float((model(xt).argmax(1) == yt).float().mean())
    print(json.dumps({"epoch_times": times, "final_loss": loss, "test_acc": acc}))


def lstm_model(torch, hidden):
    """The network of examples/sequence_mnist.c and bench/lstm.c."""
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(28, hidden, batch_first=True)
            self.fc = torch.nn.Linear(hidden, 10)

        def forward(self, x):
            _, (h_n, _) = self.lstm(x)
            return self.fc(h_n[-1])
    return Net()


def run_lstm_child(a):
    import torch
    torch.set_num_threads(a.torch_threads)
    torch.manual_seed(a.seed)
    hidden = int(a.hidden.split(",")[0])
    x, y = images(a, "train-images-idx3-ubyte", (-1, 28, 28)), labels(a, "train-labels-idx1-ubyte")
    if a.images:
        x, y = x[:a.images], y[:a.images]
    model = lstm_model(torch, hidden)
    times, loss = train(model, x, y, a)
    xt, yt = images(a, "t10k-images-idx3-ubyte", (-1, 28, 28)), labels(a, "t10k-labels-idx1-ubyte")
    with torch.no_grad():
        acc = float((model(xt).argmax(1) == yt).float().mean())
    print(json.dumps({"epoch_times": times, "final_loss": loss, "test_acc": acc}))


def fortunes(path):
    """The bytes of a text file, or of a directory's regular files without a '.'
    in their name, in name order (examples/char_data.h's cd_load)."""
    if not os.path.isdir(path):
        return open(path, "rb").read()
    names = sorted(n for n in os.listdir(path) if "." not in n)
    files = [os.path.join(path, n) for n in names]
    return b"".join(open(f, "rb").read() for f in files if os.path.isfile(f) and not os.path.islink(f))


def gpt_model(torch, vocab, block, embed=96, heads=4, layers=3):
    """examples/char_gpt's model (examples/gpt_model.h) in PyTorch's layers."""
    nn = torch.nn

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, embed)
            self.wpe = nn.Embedding(block, embed)
            self.drop = nn.Dropout(0.0)
            self.h = nn.ModuleList(nn.TransformerEncoderLayer(
                embed, heads, 4 * embed, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
                for _ in range(layers))
            self.ln_f = nn.LayerNorm(embed)
            self.lm_head = nn.Linear(embed, vocab, bias=False)
            nn.init.normal_(self.wte.weight, 0, 0.02)
            nn.init.normal_(self.wpe.weight, 0, 0.02)
            self.lm_head.weight = self.wte.weight
            self.register_buffer("mask", torch.full((block, block), float("-inf")).triu(1))
            self.register_buffer("positions", torch.arange(block))

        def forward(self, x):
            t = x.shape[1]
            h = self.drop(self.wte(x) + self.wpe(self.positions[:t]))
            for layer in self.h:
                h = layer(h, src_mask=self.mask[:t, :t])
            return self.lm_head(self.ln_f(h)).reshape(-1, vocab)
    return GPT()


def run_gpt_child(a):
    import resource
    import numpy as np
    import torch
    torch.set_num_threads(a.torch_threads)
    torch.manual_seed(a.seed)
    text = fortunes(a.text)
    chars = sorted(set(text))
    ids = torch.from_numpy(np.frombuffer(text.translate(bytes.maketrans(bytes(chars), bytes(range(len(chars))))),
                                         dtype=np.uint8).astype(np.int64))
    model = gpt_model(torch, len(chars), a.block)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and not n.startswith(("wte.", "wpe."))]
    rest = [p for n, p in model.named_parameters() if not (p.dim() == 2 and not n.startswith(("wte.", "wpe.")))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=2e-3)
    sched = torch.optim.lr_scheduler.SequentialLR(opt, [
        torch.optim.lr_scheduler.LinearLR(opt, 0.01, 1.0, 100),
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, 900, eta_min=2e-4)], [100])
    g = torch.Generator().manual_seed(a.seed)
    window = torch.arange(a.block)
    marks = [1, a.steps // 2, a.steps]
    times, cpu, rss = [], [], []
    for step in range(a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        at = torch.randint(0, len(ids) - a.block - 1, (a.batch, 1), generator=g) + window
        loss = torch.nn.functional.cross_entropy(model(ids[at]), ids[at + 1].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if step + 1 in marks:
            rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        if a.give_up and len(times) >= 4 and statistics.median(times[1:]) > a.give_up:
            break
    print(json.dumps({"epoch_times": times, "cpu_times": cpu, "final_loss": float(loss),
                      "rss": [marks[:len(rss)], rss]}))


def child_args(a):
    """The arguments of a.mode's child process (but its thread count)."""
    if a.mode == "gpt":
        return ["--text", a.text, "--steps", str(a.steps), "--batch", str(a.batch), "--block", str(a.block),
                "--seed", str(a.seed)]
    return ["--data", a.data, "--batch", str(a.batch), "--epochs", str(a.epochs), "--hidden", a.hidden,
            "--seed", str(a.seed), "--images", str(a.images)]


def run_settings(a):
    """Every torch x OpenBLAS thread setting of a.mode ("mlp", "cnn", "lstm" or "gpt"),
    each in a fresh process (OpenBLAS reads its thread count at load time), and the
    best: the median epoch (gpt: step) in seconds, the first excluded."""
    unit = "step" if a.mode == "gpt" else "epoch"
    results = []
    for tt in (1, 2):
        for bt in (1, 2):
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(bt), OMP_NUM_THREADS=str(tt))
            cmd = [sys.executable, __file__, a.mode + "-child", "--torch-threads", str(tt)] + child_args(a)
            if results:
                cmd += ["--give-up", str(4 * min(results)[0])]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"# torch {tt} / openblas {bt}: failed: {out.stderr.strip()[-300:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            med = statistics.median(r["epoch_times"][1:] or r["epoch_times"])
            results.append((med, tt, bt))
            acc = f", test accuracy {r['test_acc']:.4f}" if "test_acc" in r else ""
            if "rss" in r:
                acc += ", peak RSS after steps {}: {} MiB".format(
                    "/".join(map(str, r["rss"][0])), "/".join(f"{m:.1f}" for m in r["rss"][1]))
            print(f"RESULT {a.mode}_torch{tt}_openblas{bt} {med:.4f} median {unit} s over "
                  f"{len(r['epoch_times'])} {unit}s (first excluded), final loss {r['final_loss']:.4f}{acc}")
            if "cpu_times" in r:
                print(f"RESULT {a.mode}_cpu_torch{tt}_openblas{bt} {statistics.median(r['cpu_times'][1:]):.4f} "
                      f"median CPU s per {unit} (all threads)")
            sys.stdout.flush()
    if results:
        med, tt, bt = min(results)
        print(f"RESULT {a.mode}_best {med:.4f} torch threads {tt}, OpenBLAS threads {bt}")


def run_housing(a):
    import numpy as np
    import torch
    torch.set_num_threads(1)
    rows = open(a.csv).read().strip().splitlines()
    header = [h.strip('"') for h in rows[1].split(",")]
    data = np.array([[float(v) for v in r.split(",")] for r in rows[2:]], dtype=np.float32)
    x = torch.from_numpy(data[:, header.index("RM")]).reshape(-1, 1)
    t = torch.from_numpy(data[:, header.index("MEDV")]).reshape(-1, 1)
    x = (x - x.mean()) / x.std(unbiased=False)
    k1, b1, k2, b2 = (torch.tensor([v], requires_grad=True) for v in (1.0, 0.0, 1.0, 0.0))
    opt = torch.optim.SGD([k1, b1, k2, b2], lr=0.05)
    t0 = time.perf_counter()
    for _ in range(a.steps):
        y = k2 * torch.sigmoid(k1 * x + b1) + b2
        loss = ((y - t) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    print(f"RESULT housing_torch {dt:.4f} s for {a.steps} steps, final loss {float(loss):.4f}")


def run_overhead(a):
    import torch
    torch.set_num_threads(1)
    x = torch.ones(1, requires_grad=True)
    for _ in range(1000):
        (x + x)
    t0 = time.perf_counter()
    for _ in range(a.iters):
        y = x + x
        y = y * x
        y = y - x
        y = y * x
    dt = time.perf_counter() - t0
    print(f"RESULT overhead_torch {dt / (4 * a.iters) * 1e6:.4f} us per recorded op (add/mul/sub, 1 element)")


def run_attention_child(a):
    import resource
    import torch
    torch.set_num_threads(a.torch_threads)
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(a.batch, a.heads, a.seq, 32, generator=g, requires_grad=True) for _ in range(3))
    mask = torch.ones(a.seq, a.seq, dtype=torch.bool).triu(1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        s = (q @ k.transpose(-2, -1)) / 32 ** 0.5
        w = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        (w @ v).sum().backward()
        times.append(time.perf_counter() - t0)
        q.grad = k.grad = v.grad = None
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    print(f"RESULT attention_t{a.torch_threads} {statistics.median(times):.6f} s (T {a.seq}, median of {a.reps})")
    print(f"RESULT attention_peak_t{a.torch_threads} {peak:.2f} MiB peak RSS growth")


def run_attention(a):
    best = None
    for th in (1, 2):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "attention-child", "--seq", str(a.seq),
                              "--reps", str(a.reps), "--batch", str(a.batch), "--heads", str(a.heads),
                              "--torch-threads", str(th)],
                             capture_output=True, text=True, check=True).stdout
        print(out, end="")
        vals = {line.split()[1]: float(line.split()[2]) for line in out.splitlines() if line.startswith("RESULT")}
        t, mem = vals[f"attention_t{th}"], vals[f"attention_peak_t{th}"]
        if best is None or t < best[0]:
            best = (t, mem, th)
    print(f"RESULT attention_best {best[0]:.6f} s ({best[2]} thread(s))")
    print(f"RESULT attention_peak_mib {best[1]:.2f} MiB")


def fix_openblas_core():
    """OpenBLAS picks its kernels from the CPU's family and model; on a model newer
    than it knows (Debian 12's 0.3.21 on family 6 model 207, an Emerald Rapids Xeon)
    it falls back to its Prescott (SSE3) kernels, a fifth of what the CPU can do,
    and PyTorch's matrix products with it, which would flatter nabla. There, the
    PyTorch side runs with OPENBLAS_CORETYPE naming OpenBLAS's own kernels for the
    widest vectors the CPU has (SkylakeX for AVX-512, Haswell for AVX2), and says
    so; bench/gemm does the same."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True,
                           env=dict(os.environ, OPENBLAS_VERBOSE="2"))
    if "Core: Prescott" not in probe.stdout + probe.stderr:
        return
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    skx = all(f in flags for f in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))
    core = "SkylakeX" if skx else "Haswell" if "avx2" in flags and "fma" in flags else None
    if core:
        os.environ["OPENBLAS_CORETYPE"] = core
        print(f"# OpenBLAS chose its Prescott kernels for this CPU: PyTorch runs with OPENBLAS_CORETYPE={core}")
        sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["mlp", "mlp-child", "cnn", "cnn-child", "lstm", "lstm-child", "gpt", "gpt-child", "housing",
                                    "overhead", "attention", "attention-child"])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--batch", type=int, default=None, help="default 128, attention: 4")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--hidden", default="256,128")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--images", type=int, default=0, help="lstm: train on the first N images (0: all)")
    p.add_argument("--drop-last", action="store_true")
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--give-up", type=float, default=0.0,
                   help="stop after two epochs when an epoch takes longer than this (s)")
    p.add_argument("--text", default="/usr/share/games/fortunes", help="gpt: the text")
    p.add_argument("--block", type=int, default=64, help="gpt: characters per window")
    p.add_argument("--csv", default="")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--iters", type=int, default=100000)
    p.add_argument("--seq", type=int, default=256, help="attention: the sequence length T")
    p.add_argument("--reps", type=int, default=7, help="attention: repetitions (the median is reported)")
    p.add_argument("--heads", type=int, default=4, help="attention: heads")
    a = p.parse_args()
    if a.batch is None:
        a.batch = 4 if a.mode.startswith("attention") else 128
    if not a.mode.endswith("-child"):
        fix_openblas_core()
    parent = a.mode in ("mlp", "cnn", "lstm", "gpt", "attention")  # these run their work in children
    if os.environ.get("NABLA_FLUSH_DENORMAL", "0") not in ("", "0") and not parent:
        import torch  # the same setting as nabla's side, before the first op creates torch's threads
        torch.set_flush_denormal(True)
    {"mlp": run_settings, "mlp-child": run_mlp_child, "cnn": run_settings, "cnn-child": run_cnn_child,
     "lstm": run_settings, "lstm-child": run_lstm_child, "gpt": run_settings, "gpt-child": run_gpt_child,
     "housing": run_housing,
     "overhead": run_overhead, "attention": run_attention, "attention-child": run_attention_child}[a.mode](a)


if __name__ == "__main__":
    main()
