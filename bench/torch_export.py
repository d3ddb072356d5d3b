#!/usr/bin/python3
"""bench/torch_export.py — PyTorch models, their inputs and their outputs in
one safetensors file, for bench/torch_interop (nabla loads the same state_dicts
into the same architectures built from its own layers and compares outputs).

    /usr/bin/python3 bench/torch_export.py [--small] OUT.safetensors

Two models, each trained for a few Adam steps on random data from a fixed seed
(so that the weights and BatchNorm's running statistics are not their initial
values), then run in eval mode:

  cnn   the network of examples/fashion_mnist_cnn.c: conv(1,c1,3,pad 1, no
        bias)-BatchNorm2d-ReLU-MaxPool2d(2), the same from c1 to c2, Flatten,
        Linear(c2*7*7, h), BatchNorm1d(h), ReLU, Dropout(0.3), Linear(h, 10);
        c1, c2, h = 16, 32, 128 (--small: 4, 8, 16)
  lstm  the network of examples/char_lstm.c: Embedding(V, E), LSTM(E, H,
        num_layers=2, batch_first=True), Linear(H, V), run from a given (h0, c0);
        V, E, H = 114, 64, 128 (--small: 30, 8, 16)

Tensors: "cnn.<state_dict key>" and "lstm.<state_dict key>" (F32; BatchNorm's
num_batches_tracked I64, as torch stores it), the inputs "cnn.input" [N,1,28,28],
"lstm.input" (I64 [B,T]), "lstm.h0", "lstm.c0", and PyTorch's outputs
"cnn.output" [N,10], "lstm.output" [B,T,V], "lstm.h_n", "lstm.c_n". The sizes
are in the metadata. The safetensors format is written here with numpy (torch
1.13 has no safetensors package): an 8-byte little-endian header length, the
JSON header padded with spaces to a multiple of 8, the raw little-endian data.
tests/data/torch_interop_small.safetensors is this script's --small output.
"""
import argparse
import json
import struct

import numpy as np
import torch

DTYPES = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}


def save_safetensors(path, tensors, metadata):
    """tensors: name -> numpy array (float32 or int64), written in name order."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name], order="C")  # (ascontiguousarray would make a rank-0 tensor [1])
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        data = a.tobytes()
        header[name] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def cnn_model(c1, c2, h):
    nn = torch.nn

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))
    return nn.Sequential(block(1, c1), block(c1, c2), nn.Flatten(), nn.Linear(c2 * 7 * 7, h), nn.BatchNorm1d(h),
                         nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(h, 10)))


class CharLSTM(torch.nn.Module):
    def __init__(self, vocab, embed, hidden):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, embed)
        self.lstm = torch.nn.LSTM(embed, hidden, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.fc(out), state


def train_briefly(model, batches, loss_of):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for b in batches:
        opt.zero_grad()
        loss_of(model, b).backward()
        opt.step()
    model.eval()


def tensors_of(prefix, model):
    return {f"{prefix}.{k}": v.detach().numpy() for k, v in model.state_dict().items()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--small", action="store_true", help="small sizes, for the test suite's fixture")
    a = p.parse_args()
    torch.manual_seed(0)
    c1, c2, h = (4, 8, 16) if a.small else (16, 32, 128)
    V, E, H = (30, 8, 16) if a.small else (114, 64, 128)
    N, B, T = (8, 3, 12) if a.small else (64, 16, 64)
    out = {}

    cnn = cnn_model(c1, c2, h)
    ce = torch.nn.functional.cross_entropy
    train_briefly(cnn, [(torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))) for _ in range(10)],
                  lambda m, b: ce(m(b[0]), b[1]))
    x = torch.rand(N, 1, 28, 28)
    with torch.no_grad():
        y = cnn(x)
    out.update(tensors_of("cnn", cnn))
    out.update({"cnn.input": x.numpy(), "cnn.output": y.numpy()})

    lstm = CharLSTM(V, E, H)
    train_briefly(lstm, [torch.randint(0, V, (8, T + 1)) for _ in range(10)],
                  lambda m, b: ce(m(b[:, :-1])[0].reshape(-1, V), b[:, 1:].reshape(-1)))
    ids = torch.randint(0, V, (B, T))
    h0, c0 = torch.randn(2, B, H) * 0.5, torch.randn(2, B, H) * 0.5
    with torch.no_grad():
        logits, (h_n, c_n) = lstm(ids, (h0, c0))
    out.update(tensors_of("lstm", lstm))
    out.update({"lstm.input": ids.numpy(), "lstm.h0": h0.numpy(), "lstm.c0": c0.numpy(),
                "lstm.output": logits.numpy(), "lstm.h_n": h_n.numpy(), "lstm.c_n": c_n.numpy()})

    meta = {"torch": torch.__version__, "cnn.c1": str(c1), "cnn.c2": str(c2), "cnn.hidden": str(h),
            "lstm.vocab": str(V), "lstm.embed": str(E), "lstm.hidden": str(H), "lstm.layers": "2"}
    save_safetensors(a.out, out, meta)
    print(f"wrote {a.out}: {len(out)} tensors (torch {torch.__version__})")


if __name__ == "__main__":
    main()
