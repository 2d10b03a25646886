"""PixelRNN with Row LSTM or Diagonal BiLSTM layers (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel
Recurrent Neural Networks", sec. 3.1-3.2 and table 2).

A Row LSTM layer runs an LSTM down the image one row at a time, a whole row at once: the gates of row r are
K_is * x_r + K_ss * h_{r-1}, where the input-to-state convolution K_is (1 x k along the row, masked so that it
sees the row's features up to and including the current column: mask B) is computed for every row in one
convolution, and the state-to-state convolution K_ss (1 x k over the previous row's hidden state, unmasked:
that whole row comes before the current pixel) runs row by row. c_r = f . c_{r-1} + i . g,
h_r = o . tanh(c_r). Each pixel's context is a triangle above it (the paper's fig. 4) plus the pixels to its
left through the first layer and K_is. Layout (table 2): a 7x7 convolution with mask A giving 2h features, Row
LSTM layers of h units whose output goes through a 1x1 convolution back to 2h and is added to the layer's
input (residual connections, sec. 3.3), then ReLU, 1x1, ReLU, 1x1 to the pixel distribution.

The paper's MNIST networks are small (its best, a Diagonal BiLSTM, has 7 layers of h = 16; Row LSTM: 80.54
nats); genzoo's default is 7 Row LSTM layers of h = 16. Training, evaluation, pixel distributions and samplers
are shared with the PixelCNNs (genzoo.models.pixelcnn): the cached sampler keeps each layer's LSTM state of the
row above and the cells of the current row, so a sample costs about one forward pass.

A Diagonal BiLSTM layer (sec. 3.2, `pixelrnn-diagonal`) skews the map (row i moved i columns right, fig. 3), so
that each diagonal of the image becomes a column, and runs an LSTM over those columns: input-to-state a 1x1
convolution, state-to-state a 2x1 convolution over the previous column. Unskewed, the state at pixel (r, c)
follows the states at (r, c-1) (whose cell it continues) and (r-1, c): the left-to-right direction sees the whole
region above and to the left. A second LSTM runs on the mirrored image (right to left, seeing above and to the
right); its output is shifted down one row, so that it never sees the current row, and added to the first's. Each
pixel's context is then the whole of the rows above and the pixels to its left (no blind spot), except the last
pixel of the row above, which no state of that row holds: only the first (mask A) layer's features at the last
k//2 + 1 columns of the current row see it (tested). Skewed positions
outside the image keep zero states (the paper leaves this open; it makes the layer equal to its pixel-by-pixel
form). The cached sampler runs the left-to-right direction pixel by pixel and the right-to-left one a row at a
time when that row is complete. The paper's best MNIST model: 7 Diagonal BiLSTM layers of h = 16, 79.20 nats.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.models.pixelcnn import AutoregressiveModel, MaskedConv2d, PixelCNNConfig, conv_at, pointwise
from genzoo.registry import register


def lstm_cell(gates: torch.Tensor, c_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LSTM update from the pre-activations [o, f, i, g] stacked on dim 1: (h, c)."""
    o, f, i, g = gates.chunk(4, 1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class RowLSTMLayer(nn.Module):
    def __init__(self, features: int, h: int, k: int, num_classes: int):
        super().__init__()
        self.k, self.h = k, h
        self.input_to_state = nn.Conv2d(features, 4 * h, (1, k), padding=(0, k // 2))
        mask = torch.ones(1, k)
        mask[0, k // 2 + 1:] = 0  # mask B along the row: up to and including the current column
        self.register_buffer("mask", mask[None, None], persistent=False)
        self.state_to_state = nn.Conv1d(h, 4 * h, k, padding=k // 2)
        self.out = nn.Conv2d(h, features, 1)
        self.cond = nn.Embedding(num_classes, 4 * h) if num_classes else None

    def is_weight(self) -> torch.Tensor:
        return self.input_to_state.weight * self.mask

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        n, _, rows, cols = x.shape
        gates_in = F.conv2d(x, self.is_weight(), self.input_to_state.bias, padding=(0, self.k // 2))
        if self.cond is not None:
            gates_in = gates_in + self.cond(y)[:, :, None, None]
        h = x.new_zeros(n, self.h, cols)
        c = torch.zeros_like(h)
        hs = []
        # unbind, not gates_in[:, :, r]: each indexing op's backward writes a zero tensor of the whole map
        for row_in in gates_in.unbind(2):
            h, c = lstm_cell(row_in + self.state_to_state(h), c)
            hs.append(h)
        return x + self.out(torch.stack(hs, 2))


class RowLSTMNet(nn.Module):
    layer_class: type[nn.Module] = RowLSTMLayer

    def __init__(self, channels: int, out: int, h: int, layers: int, first_kernel: int, kernel: int,
                 num_classes: int):
        super().__init__()
        self.first = MaskedConv2d(channels, 2 * h, first_kernel, "A")
        self.layers = nn.ModuleList(self.layer_class(2 * h, h, kernel, num_classes) for _ in range(layers))
        self.head1 = nn.Conv2d(2 * h, 2 * h, 1)
        self.head2 = nn.Conv2d(2 * h, out, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.first(x)
        for layer in self.layers:
            h = layer(h, y)
        return self.head2(F.relu(self.head1(F.relu(h))))

    def incremental(self, n: int, shape: tuple[int, int, int], y: torch.Tensor | None) -> CachedRowLSTM:
        return CachedRowLSTM(self, n, shape, y)


class CachedImage:
    """What both PixelRNN caches share: the image sampled so far, padded for the first (mask A) convolution, whose
    output at one pixel `first_features` gives."""

    def __init__(self, net: RowLSTMNet, n: int, shape: tuple[int, int, int]):
        c, h, w = shape
        self.net, self.w = net, w
        self.pad0 = net.first.kernel_size[0] // 2
        self.x = net.head1.weight.new_zeros(n, c, h + 2 * self.pad0, w + 2 * self.pad0)
        self.first_w = net.first.masked_weight()

    def first_features(self, r: int, c: int) -> torch.Tensor:
        return conv_at(self.x, self.first_w, self.net.first.bias, r, c)

    def write(self, r: int, c: int, value: torch.Tensor) -> None:
        self.x[:, :, r + self.pad0, c + self.pad0] = value

    def output(self, feat: torch.Tensor) -> torch.Tensor:
        """The output head at one pixel, from the residual stream's features there (the net's 1x1 head convs)."""
        return pointwise(self.net.head2, F.relu(pointwise(self.net.head1, F.relu(feat))))


class CachedRowLSTM(CachedImage):
    """Row LSTM state for pixel-by-pixel sampling: per layer, the hidden and cell states of the row above (whose
    state-to-state term is computed once when a row starts) and the current row's input features so far."""

    def __init__(self, net: RowLSTMNet, n: int, shape: tuple[int, int, int], y: torch.Tensor | None):
        super().__init__(net, n, shape)
        w, p = shape[2], net.head1.weight
        self.is_w = [layer.is_weight() for layer in net.layers]
        self.cond = [None if layer.cond is None else layer.cond(y) for layer in net.layers]
        self.h_above = [p.new_zeros(n, layer.h, w) for layer in net.layers]
        self.c_above = [p.new_zeros(n, layer.h, w) for layer in net.layers]
        self.h_row: list[torch.Tensor] = []
        self.c_row: list[torch.Tensor] = []
        self.ss: list[torch.Tensor] = []
        self.inputs: list[torch.Tensor] = []

    def _start_row(self) -> None:
        if self.h_row:  # the finished row becomes the row above
            self.h_above, self.c_above = self.h_row, self.c_row
        self.ss = [layer.state_to_state(h) for layer, h in zip(self.net.layers, self.h_above)]
        self.h_row = [torch.zeros_like(h) for h in self.h_above]
        self.c_row = [torch.zeros_like(c) for c in self.c_above]
        self.inputs = [h.new_zeros(len(h), layer.input_to_state.in_channels, 1, self.w + 2 * (layer.k // 2))
                       for h, layer in zip(self.h_above, self.net.layers)]

    def params_at(self, r: int, c: int) -> torch.Tensor:
        net = self.net
        if c == 0:
            self._start_row()
        feat = self.first_features(r, c)
        for i, layer in enumerate(net.layers):
            q = layer.k // 2
            self.inputs[i][:, :, 0, c + q] = feat
            gates = conv_at(self.inputs[i], self.is_w[i], layer.input_to_state.bias, 0, c) + self.ss[i][:, :, c]
            if self.cond[i] is not None:
                gates = gates + self.cond[i]
            h, cell = lstm_cell(gates, self.c_above[i][:, :, c])
            self.h_row[i][:, :, c], self.c_row[i][:, :, c] = h, cell
            feat = feat + pointwise(layer.out, h)
        return self.output(feat)


@register("pixelrnn", config=PixelCNNConfig, family="autoregressive",
          description="PixelRNN with Row LSTM layers (van den Oord et al. 2016), exact likelihood",
          preset={"hidden": 16, "layers": 7},
          train_defaults={"epochs": 10, "batch_size": 64, "channels_last": False})
class PixelRNN(AutoregressiveModel):
    """Row LSTM PixelRNN; `hidden` is the LSTM's h (the residual stream carries 2h), `kernel` the size of the
    input-to-state and state-to-state convolutions (paper: 3)."""

    net_class = RowLSTMNet


def skew(x: torch.Tensor) -> torch.Tensor:
    """N x C x H x W -> N x C x H x (W + H - 1), row i moved i columns to the right (zeros elsewhere)."""
    n, c, h, w = x.shape
    # rows of W + H zeros-padded pixels read back as rows of W + H - 1: each row starts one column further right
    return F.pad(x, (0, h)).flatten(2)[..., :h * (w + h - 1)].view(n, c, h, w + h - 1)


def unskew(s: torch.Tensor, w: int) -> torch.Tensor:
    """The inverse of `skew` for images of width `w` (the same index arithmetic read backwards)."""
    n, c, h, _ = s.shape
    return F.pad(s.flatten(2), (0, h)).view(n, c, h, w + h)[..., :w]


class DiagonalLSTM(nn.Module):
    """One direction of a Diagonal BiLSTM layer (left to right; the layer mirrors the image for the other): its
    weights, and its pixel-by-pixel step for the cached sampler; the layer runs both directions' columns."""

    def __init__(self, features: int, h: int, num_classes: int):
        super().__init__()
        self.h = h
        self.input_to_state = nn.Conv2d(features, 4 * h, 1)
        self.state_to_state = nn.Conv1d(h, 4 * h, 2)  # over the previous column's rows i-1 (tap 0) and i (tap 1)
        self.cond = nn.Embedding(num_classes, 4 * h) if num_classes else None

    def gates_in(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        gates = self.input_to_state(x)
        return gates if self.cond is None else gates + self.cond(y)[:, :, None, None]

    def step(self, gates_in: torch.Tensor, h_above: torch.Tensor, h_before: torch.Tensor,
             c_before: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One pixel: its input gates (N, 4h), the state above it and the state (h, c) before it in this direction."""
        w = self.state_to_state.weight
        gates = gates_in + F.linear(h_above, w[:, :, 0], self.state_to_state.bias) + F.linear(h_before, w[:, :, 1])
        return lstm_cell(gates, c_before)


class DiagonalBiLSTMLayer(nn.Module):
    def __init__(self, features: int, h: int, k: int, num_classes: int):
        super().__init__()
        self.h = h
        self.forward_dir = DiagonalLSTM(features, h, num_classes)
        self.backward_dir = DiagonalLSTM(features, h, num_classes)
        self.out = nn.Conv2d(h, features, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        n, _, rows, cols = x.shape
        h = self.h
        dirs = (self.forward_dir, self.backward_dir)
        # Both directions in one loop over the skewed columns (the right-to-left one on the mirrored image), each
        # with its own state-to-state weights through a grouped convolution: half the sequential steps (a training
        # step at batch 64 on 28x28, 2-core Xeon: 4.46 -> 2.74 s).
        gates_in = skew(torch.cat([self.forward_dir.gates_in(x, y), self.backward_dir.gates_in(x.flip(3), y)], 1))
        weight = torch.cat([d.state_to_state.weight for d in dirs])
        bias = torch.cat([d.state_to_state.bias for d in dirs])
        inside = skew(x.new_ones(1, 1, rows, cols))[0, 0]  # rows x skewed columns: 1 on the image
        state = x.new_zeros(n, 2 * h, rows)
        cell = torch.zeros_like(state)
        states = []
        for j, column_in in enumerate(gates_in.unbind(3)):  # unbind: see RowLSTMLayer.forward
            gates = column_in + F.conv1d(F.pad(state, (1, 0)), weight, bias, groups=2)
            state, cell = lstm_cell(gates.reshape(2 * n, 4 * h, rows), cell.reshape(2 * n, h, rows))  # any layout
            state = state.reshape(n, 2 * h, rows) * inside[:, j]  # zero states off the image
            cell = cell.reshape(n, 2 * h, rows) * inside[:, j]
            states.append(state)
        both = unskew(torch.stack(states, 3), cols)
        left, right = both[:, :h], both[:, h:].flip(3)
        right = F.pad(right, (0, 0, 1, 0))[:, :, :-1]  # down one row: the current row stays unseen
        return x + self.out(left + right)


class DiagonalBiLSTMNet(RowLSTMNet):
    layer_class = DiagonalBiLSTMLayer

    def incremental(self, n: int, shape: tuple[int, int, int], y: torch.Tensor | None) -> CachedDiagonalBiLSTM:
        return CachedDiagonalBiLSTM(self, n, shape, y)


class CachedDiagonalBiLSTM(CachedImage):
    """Diagonal BiLSTM state for pixel-by-pixel sampling. Per layer: the left-to-right states of the row above and
    of the current row so far, the right-to-left states of the row above (run over that row when it is complete,
    from its stored layer inputs and the right-to-left states of the row before), and the current row's inputs."""

    def __init__(self, net: DiagonalBiLSTMNet, n: int, shape: tuple[int, int, int], y: torch.Tensor | None):
        super().__init__(net, n, shape)
        w, p = shape[2], net.head1.weight
        self.y = y
        layers = net.layers
        self.cond = [None if layer.forward_dir.cond is None else layer.forward_dir.cond(y) for layer in layers]
        self.inputs = [p.new_zeros(n, layer.out.out_channels, w) for layer in layers]  # this row's layer inputs
        self.left_above = [p.new_zeros(n, layer.h, w) for layer in layers]
        self.left_row = [p.new_zeros(n, layer.h, w) for layer in layers]
        self.left_cells = [p.new_zeros(n, layer.h, w) for layer in layers]
        self.right_above = [p.new_zeros(n, layer.h, w) for layer in layers]  # right-to-left states of the row above

    def _start_row(self, r: int) -> None:
        if r == 0:
            return
        for i, layer in enumerate(self.net.layers):
            # the right-to-left direction over the finished row r-1, right to left
            back = layer.backward_dir
            gates_in = back.gates_in(self.inputs[i][:, :, None], self.y)[:, :, 0]  # N x 4h x W
            h = torch.zeros_like(self.right_above[i][:, :, 0])
            cell = torch.zeros_like(h)
            row = torch.zeros_like(self.right_above[i])
            for c in reversed(range(self.w)):
                h, cell = back.step(gates_in[:, :, c], self.right_above[i][:, :, c], h, cell)
                row[:, :, c] = h
            self.right_above[i] = row
            self.left_above[i] = self.left_row[i]
            self.left_row[i] = torch.zeros_like(self.left_row[i])
            self.inputs[i] = torch.zeros_like(self.inputs[i])

    def params_at(self, r: int, c: int) -> torch.Tensor:
        net = self.net
        if c == 0:
            self._start_row(r)
        feat = self.first_features(r, c)
        for i, layer in enumerate(net.layers):
            self.inputs[i][:, :, c] = feat
            fwd = layer.forward_dir
            gates_in = pointwise(fwd.input_to_state, feat)
            if self.cond[i] is not None:
                gates_in = gates_in + self.cond[i]
            zero = torch.zeros_like(self.left_row[i][:, :, 0])
            h_before = self.left_row[i][:, :, c - 1] if c else zero
            c_before = self.left_cells[i][:, :, c - 1] if c else zero
            h, cell = fwd.step(gates_in, self.left_above[i][:, :, c], h_before, c_before)
            self.left_row[i][:, :, c], self.left_cells[i][:, :, c] = h, cell
            feat = feat + pointwise(layer.out, h + self.right_above[i][:, :, c])
        return self.output(feat)


@register("pixelrnn-diagonal", config=PixelCNNConfig, family="autoregressive",
          description="PixelRNN with Diagonal BiLSTM layers (van den Oord et al. 2016), exact likelihood",
          preset={"hidden": 16, "layers": 7},
          train_defaults={"epochs": 10, "batch_size": 64, "channels_last": False})
class PixelRNNDiagonal(AutoregressiveModel):
    """Diagonal BiLSTM PixelRNN; `hidden` is each direction's h (the residual stream carries 2h); `kernel` is
    unused (the paper's 1x1 input-to-state and 2x1 state-to-state convolutions)."""

    net_class = DiagonalBiLSTMNet
