"""SNDCGAN's training step written in PyTorch (CPU), the reference ganhub's step is timed against.

The same networks as ganhub.training.architectures.sndcgan, built from a ganhub generator and
discriminator's weights (TF layouts are kept for the parameters and permuted per call, so spectral
norm's ``u`` and the kernel matrix are exactly ganhub's), and the same step: one D step (NS loss,
every D call of the step normalized from the step's starting ``u``, ``u`` advanced once), then one G
step, each followed by Adam (lr 2e-4, betas 0.5/0.999, eps 1e-8).

Timed in a process of its own, without TensorFlow: in one process TF's thread pool and torch's
OpenMP threads fight over the 2 cores and torch runs 10-20x slower than alone. The parent writes the
weights, inputs and ganhub's losses to a file (``weights_of``), and

    python benchmarks/torch_sndcgan.py WEIGHTS.pkl STEPS

checks that torch computes the same losses on them, then prints the median D and G step times as
JSON; with ``--serve`` instead of STEPS it prints the losses, then for every number N read from
stdin runs N steps (D step + G step) and prints their times as a JSON list, so that the parent can
alternate torch and ganhub in rounds and both see the same load. Only what the benchmark needs:
SNDCGAN, NS loss, spectral norm or none, no penalty.

Threads: ``torch.set_num_threads(job["threads"])``. torch's CPU build uses GNU OpenMP, whose
threads spin-wait between parallel regions; on cores other processes also use, a spinning thread
holds a core its partner needs, and a width-1/8 step took 0.97 s with 2 threads against 0.20 s
with 1 (load average 5 on 2 cores). ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at once) gave
0.36 s. benchmarks/train_step.py runs torch both ways and compares ganhub with the faster.
"""
import json
import pickle
import sys
import time
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F


def _array(value):
    return np.array(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float32)


def _param(variable):
    return torch.nn.Parameter(torch.from_numpy(_array(variable)))


def _buffer(variable):
    return torch.from_numpy(_array(variable))


class _SpectralNorm:
    """ganhub's SpectralNorm: matrix = kernel viewed [prod(shape[:-1]), out], persistent u [rows, 1]."""

    def __init__(self, u):
        self.u = u

    def step(self, kernel):
        """(normalized kernel, new u) from one power iteration of the step's starting u."""
        matrix = kernel.reshape(-1, kernel.shape[-1])
        with torch.no_grad():
            v = F.normalize(matrix.t() @ self.u, dim=0, eps=1e-12)
            u = F.normalize(matrix @ v, dim=0, eps=1e-12)
        sigma = (u.t() @ matrix @ v).squeeze()
        return kernel / sigma, u


class TorchDiscriminator(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.strides = [conv.stride for conv in d.convs]
        self.kernels = torch.nn.ParameterList([_param(c.kernel) for c in d.convs])
        self.biases = torch.nn.ParameterList([_param(c.bias) for c in d.convs])
        self.fc_kernel, self.fc_bias = _param(d.fc.kernel), _param(d.fc.bias)
        sn = d.fc.spectral_norm is not None
        self.norms = ([_SpectralNorm(_buffer(c.spectral_norm.u)) for c in d.convs]
                      + [_SpectralNorm(_buffer(d.fc.spectral_norm.u))]) if sn else None
        self.flat = d.flat

    def weights_for_step(self):
        """The step's kernels (spectral-normalized once) and the u each advances to."""
        kernels = list(self.kernels) + [self.fc_kernel]
        if self.norms is None:
            return kernels, None
        pairs = [norm.step(k) for norm, k in zip(self.norms, kernels)]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def commit(self, new_u):
        if new_u is not None:
            for norm, u in zip(self.norms, new_u):
                norm.u = u

    def forward(self, x, kernels):
        """x: NCHW in [0, 1]; kernels from weights_for_step (TF layout [k, k, in, out])."""
        x = x * 2.0 - 1.0
        for kernel, bias, stride in zip(kernels[:-1], self.biases, self.strides):
            k = kernel.permute(3, 2, 0, 1)
            x = F.leaky_relu(_conv_same(x, k, bias, stride), 0.1)
        x = x.permute(0, 2, 3, 1).reshape(-1, self.flat)   # flatten in TF's H, W, C order
        return (x @ kernels[-1] + self.fc_bias).squeeze(1)


def _conv_same(x, weight, bias, stride):
    """TF's SAME padding (extra row/column at the bottom/right when the total is odd)."""
    k = weight.shape[-1]
    size = x.shape[-1]
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    before, after = total // 2, total - total // 2
    if before == after:
        return F.conv2d(x, weight, bias, stride, padding=before)
    return F.conv2d(F.pad(x, (before, after, before, after)), weight, bias, stride)


class TorchGenerator(torch.nn.Module):
    def __init__(self, g):
        super().__init__()
        self.base, self.c0 = g.base, g.c0
        self.fc_kernel, self.fc_bias = _param(g.fc.kernel), _param(g.fc.bias)
        bns = [g.bn1, *g.bns]
        self.gammas = torch.nn.ParameterList([_param(b.gamma) for b in bns])
        self.betas = torch.nn.ParameterList([_param(b.beta) for b in bns])
        self.means = [_buffer(b.moving_mean) for b in bns]
        self.variances = [_buffer(b.moving_variance) for b in bns]
        self.eps = [b.epsilon for b in bns]
        self.kernels = torch.nn.ParameterList([_param(d.kernel) for d in (*g.deconvs, g.out)])
        self.biases = torch.nn.ParameterList([_param(d.bias) for d in (*g.deconvs, g.out)])

    def _bn(self, x, i):
        # contrib batch norm: biased batch variance, moving averages with decay 0.9
        return F.batch_norm(x, self.means[i], self.variances[i], self.gammas[i], self.betas[i],
                            training=True, momentum=0.1, eps=self.eps[i])

    def forward(self, z):
        x = F.relu(self._bn(z @ self.fc_kernel + self.fc_bias, 0))
        x = x.reshape(-1, self.base, self.base, self.c0).permute(0, 3, 1, 2)
        for i in range(3):   # deconv 4x4 s2 SAME == ConvTranspose2d(padding=1) for even sizes
            weight = self.kernels[i].permute(3, 2, 0, 1)
            x = F.relu(self._bn(F.conv_transpose2d(x, weight, self.biases[i], 2, padding=1), i + 1))
        x = F.conv_transpose2d(x, self.kernels[3].permute(3, 2, 0, 1), self.biases[3], 1, padding=1)
        return (torch.tanh(x) + 1.0) / 2.0


class TorchSteps:
    def __init__(self, g, d, learning_rate=2e-4, beta1=0.5, beta2=0.999):
        self.g, self.d = TorchGenerator(g), TorchDiscriminator(d)
        self.d_opt = torch.optim.Adam(self.d.parameters(), learning_rate, (beta1, beta2), eps=1e-8)
        self.g_opt = torch.optim.Adam(self.g.parameters(), learning_rate, (beta1, beta2), eps=1e-8)

    def d_loss(self, real, z):
        kernels, new_u = self.d.weights_for_step()
        with torch.no_grad():
            fake = self.g(z)
        loss = F.softplus(-self.d(real, kernels)).mean() + F.softplus(self.d(fake, kernels)).mean()
        return loss, new_u

    def g_loss(self, z):
        kernels, new_u = self.d.weights_for_step()
        return F.softplus(-self.d(self.g(z), kernels)).mean(), new_u

    def d_step(self, real, z):
        self.d_opt.zero_grad(set_to_none=True)
        loss, new_u = self.d_loss(real, z)
        loss.backward()
        self.d_opt.step()
        self.d.commit(new_u)
        return loss

    def g_step(self, z):
        self.g_opt.zero_grad(set_to_none=True)
        loss, new_u = self.g_loss(z)
        loss.backward()
        self.g_opt.step()
        self.d.commit(new_u)
        return loss


def nchw(images):
    return torch.from_numpy(np.ascontiguousarray(np.transpose(np.asarray(images), (0, 3, 1, 2))))


def weights_of(g, d):
    """The attributes TorchGenerator/TorchDiscriminator read, as plain numpy (picklable)."""
    def kern(layer, sn=False):
        out = SimpleNamespace(kernel=_array(layer.kernel), bias=_array(layer.bias),
                              stride=getattr(layer, "stride", None), spectral_norm=None)
        if sn and layer.spectral_norm is not None:
            out.spectral_norm = SimpleNamespace(u=_array(layer.spectral_norm.u))
        return out

    def bn(layer):
        return SimpleNamespace(gamma=_array(layer.gamma), beta=_array(layer.beta),
                               moving_mean=_array(layer.moving_mean),
                               moving_variance=_array(layer.moving_variance), epsilon=layer.epsilon)

    gw = SimpleNamespace(base=g.base, c0=g.c0, fc=kern(g.fc), bn1=bn(g.bn1),
                         bns=[bn(b) for b in g.bns], deconvs=[kern(c) for c in g.deconvs],
                         out=kern(g.out))
    dw = SimpleNamespace(convs=[kern(c, True) for c in d.convs], fc=kern(d.fc, True), flat=d.flat)
    return gw, dw


def tf_losses(g, d, real, z):
    """ganhub's (d_loss, g_loss) on these weights and inputs, from its own step code (GANSteps'
    replica functions, with the spectral-norm step semantics), weights left as they were."""
    from ganhub.training.config import Config
    from ganhub.training.steps import GANSteps

    state = [v.numpy() for v in list(g.variables) + list(d.variables)]
    config = Config(architecture="sndcgan", resolution=real.shape[1], batch_size=real.shape[0],
                    z_dim=z.shape[1], d_norm="spectral_norm" if d.fc.spectral_norm else "none")
    steps = GANSteps(config, g, d)
    _, d_loss, _ = steps.d_replica(real, z, None)
    for v, value in zip(list(g.variables) + list(d.variables), state):
        v.assign(value)
    _, g_loss = steps.g_replica(z)
    for v, value in zip(list(g.variables) + list(d.variables), state):
        v.assign(value)
    return float(d_loss), float(g_loss)


def _load_job(path):
    """(steps, real, z, d_loss, g_loss) of the pickled job: the weights TF sent, its batch."""
    with open(path, "rb") as fh:
        job = pickle.load(fh)
    torch.set_num_threads(job["threads"])
    gw, dw = job["weights"]
    real, z = nchw(job["real"]), torch.from_numpy(job["z"])
    s = TorchSteps(gw, dw)
    return s, real, z, float(s.d_loss(real, z)[0].detach()), float(s.g_loss(z)[0].detach())


def main(path, steps):
    s, real, z, d_loss, g_loss = _load_job(path)
    for _ in range(2):   # warm-up
        s.d_step(real, z)
        s.g_step(z)
    d_times, g_times = [], []
    for _ in range(steps):
        t = time.perf_counter()
        s.d_step(real, z)
        d_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        s.g_step(z)
        g_times.append(time.perf_counter() - t)
    print(json.dumps({"d_loss": d_loss, "g_loss": g_loss, "threads": torch.get_num_threads(),
                      "d_s": float(np.median(d_times)), "g_s": float(np.median(g_times))}))


def serve(path):
    s, real, z, d_loss, g_loss = _load_job(path)
    s.d_step(real, z)   # warm-up
    s.g_step(z)
    print(json.dumps({"d_loss": d_loss, "g_loss": g_loss, "threads": torch.get_num_threads()}),
          flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            t = time.perf_counter()
            s.d_step(real, z)
            s.g_step(z)
            times.append(time.perf_counter() - t)
        print(json.dumps(times), flush=True)


if __name__ == "__main__":
    if sys.argv[2] == "--serve":
        serve(sys.argv[1])
    else:
        main(sys.argv[1], int(sys.argv[2]))
