"""Recurrent cells written from the seed's equations, for keras.layers.RNN, and the sliding-window layer.

Weight layouts follow Keras' built-in cells (kernel (input, k*units), recurrent_kernel (units, k*units),
bias (k*units)), so weights copy across one to one and the tests can compare against SimpleRNN, LSTM and
GRU. The equations are the seed's:

    Elman SRN   h_t = tanh(W x_t + U h_{t-1} + b)             (the context layer is h_{t-1})
    LSTM        i_t = s(W_i x_t + U_i h_{t-1} + b_i)          gate order in the kernel: i, f, c~, o
                f_t = s(W_f x_t + U_f h_{t-1} + b_f)
                c~_t = tanh(W_c x_t + U_c h_{t-1} + b_c)
                o_t = s(W_o x_t + U_o h_{t-1} + b_o)
                c_t = f_t * c_{t-1} + i_t * c~_t,   h_t = o_t * tanh(c_t)
    GRU         z_t = s(W_z x_t + U_z h_{t-1} + b_z)          gate order in the kernel: z, r, h~
                r_t = s(W_r x_t + U_r h_{t-1} + b_r)
                h~_t = tanh(W x_t + U (r_t * h_{t-1}) + b)    (reset before the matmul)
                h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

Keras' GRU weights the old state by z instead (h = z h_{t-1} + (1 - z) h~): its z is this cell's 1 - z, so
a Keras GRU(reset_after=False) equals this cell with W_z, U_z, b_z negated (sigmoid(-a) = 1 - sigmoid(a)).
"""

import keras
from keras import ops


def _init(name, seed):
    if name == "glorot_uniform":
        return keras.initializers.GlorotUniform(seed=seed)
    if name == "orthogonal":
        return keras.initializers.Orthogonal(seed=seed)
    return keras.initializers.get(name)


class _SeedCell(keras.layers.Layer):
    """Shared parts: the input projection W, the recurrent projection U and the bias b for `gates` blocks."""

    gates = 1

    def __init__(self, units, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.seed = int(seed)

    def build(self, input_shape):
        n = self.gates * self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], n), initializer=_init("glorot_uniform", self.seed),
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, n),
                                                initializer=_init("orthogonal", self.seed + 1),
                                                name="recurrent_kernel")
        self.bias = self.add_weight(shape=(n,), initializer=self._bias_init(), name="bias")

    def _bias_init(self):
        return "zeros"

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def get_config(self):
        return {**super().get_config(), "units": self.units, "seed": self.seed}


@keras.saving.register_keras_serializable(package="zoo")
class ElmanCell(_SeedCell):
    """Elman's simple recurrent network: the hidden layer is copied to a context layer and fed back."""

    gates = 1

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        h = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel) + self.bias)
        return h, [h]


@keras.saving.register_keras_serializable(package="zoo")
class LSTMCell(_SeedCell):
    """LSTM with forget, input and output gates and a cell state. The forget bias starts at 1 (Gers et al.;
    Keras' unit_forget_bias), so the cell remembers by default at the start of training."""

    gates = 4

    def _bias_init(self):
        units = self.units

        def init(shape, dtype=None):
            return ops.concatenate([ops.zeros((units,), dtype), ops.ones((units,), dtype),
                                    ops.zeros((2 * units,), dtype)])
        return init

    @property
    def state_size(self):
        return [self.units, self.units]  # h and the cell state c

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        a = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel) + self.bias
        a_i, a_f, a_c, a_o = ops.split(a, 4, axis=-1)
        i = ops.sigmoid(a_i)
        f = ops.sigmoid(a_f)
        c = f * c_prev + i * ops.tanh(a_c)
        h = ops.sigmoid(a_o) * ops.tanh(c)
        return h, [h, c]


@keras.saving.register_keras_serializable(package="zoo")
class GRUCell(_SeedCell):
    """GRU with an update gate z and a reset gate r, the reset applied before the recurrent matmul, and
    h_t = (1 - z) h_{t-1} + z h~_t (the seed's convention; Keras' GRU uses the mirror image)."""

    gates = 3

    def call(self, inputs, states, training=False):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        u = self.units
        x_proj = ops.matmul(inputs, self.kernel) + self.bias
        zr = x_proj[..., :2 * u] + ops.matmul(h_prev, self.recurrent_kernel[:, :2 * u])
        z = ops.sigmoid(zr[..., :u])
        r = ops.sigmoid(zr[..., u:])
        h_tilde = ops.tanh(x_proj[..., 2 * u:] + ops.matmul(r * h_prev, self.recurrent_kernel[:, 2 * u:]))
        h = (1.0 - z) * h_prev + z * h_tilde
        return h, [h]


@keras.saving.register_keras_serializable(package="zoo")
class SlidingWindow(keras.layers.Layer):
    """NetTalk's window: at step t, the concatenation of the inputs at t-k+1 .. t (zeros before the start).

    (B, T, E) -> (B, T, k*E), causal: step t sees nothing after t. A Dense layer on top makes the window MLP.
    With `context` (B, k-1, E), the window reaches back into it instead of zeros (for stepwise generation)."""

    def __init__(self, width, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)

    def call(self, inputs, context=None):
        k = self.width
        if context is None:
            padded = ops.pad(inputs, [[0, 0], [k - 1, 0], [0, 0]])
        else:
            padded = ops.concatenate([context, inputs], axis=1)
        steps = ops.shape(inputs)[1]
        # oldest first, so the window's layout is [x_{t-k+1}, ..., x_t]
        return ops.concatenate([padded[:, j:j + steps] for j in range(k)], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (input_shape[-1] * self.width,)

    def get_config(self):
        return {**super().get_config(), "width": self.width}


CELLS = {"srn": ElmanCell, "lstm": LSTMCell, "gru": GRUCell}
