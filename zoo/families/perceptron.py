"""The perceptron (Rosenblatt 1958) and the multilayer perceptron: the threshold unit Y = [x.w + b >= 0],
its learning rule, its limit, and the network of units that goes past it.

- `Perceptron`: one threshold unit trained by Rosenblatt's rule, w <- w + lr (y - y_hat) x, b <- b + lr (y - y_hat),
  applied example by example in the order the batch holds them (the Keras `train_step` runs it; the rule's step
  lr is the compiled optimizer's learning rate, whose own update is never used). `smooth(x)` is the sigmoid of
  the same net input: the differentiable unit the MLP is made of.
- The seed's festival decision (weather, friend, transport -> go?) is linearly separable: Y = x1. The rule
  learns it exactly (the perceptron convergence theorem: finitely many mistakes on separable data).
- XOR is not separable by one hyperplane, so the rule can never stop making mistakes. With a fixed order the
  rule is a deterministic map on a finite set of reachable weight vectors (integers when lr = 1 and w starts
  at 0), so the sequence of weights at epoch starts becomes periodic: `find_cycle` finds the repeat, and
  every epoch of the cycle makes mistakes.
- `MLP`: sigmoid/tanh units in layers, trained by backpropagation; 2-4-1 solves XOR. `xor_network` wires three
  threshold units, each trained by the rule (OR, NAND, then AND of the two), into a network that computes XOR.

The truth tables ship with the family (`TABLES`); a preset names its table in its model config, so the card,
pictures and export know it without a data set (the presets' "data" is None).
"""

import itertools

import numpy as np
import tensorflow as tf
import keras
from keras import ops

from zoo import checks, figures
from zoo.base import ExportPart, metric_report, ZooModel
from zoo.errors import ZooError
from zoo.figures import decision_regions
from zoo.layers.threshold import Threshold

FAMILY = "perceptron"


# -- truth tables -----------------------------------------------------------------------------------------------
def _binary_rows(d):
    return np.array(list(itertools.product((0, 1), repeat=d)), np.float32)


def _table(names, rule, note):
    x = _binary_rows(len(names))
    return {"inputs": names, "x": x, "y": np.array([rule(*row) for row in x.astype(int)], np.float32), "note": note}


TABLES = {
    # Seed 002: go to the festival? x1 weather is good, x2 a friend comes along, x3 there is transport. Y is yes
    # exactly when the weather is good: friend and transport do not matter.
    "festival": _table(("weather", "friend", "transport"), lambda w, f, t: w,
                       "seed 002: Y = 1 exactly when x1 (weather) = 1"),
    "xor": _table(("x1", "x2"), lambda a, b: a ^ b, "Y = x1 XOR x2: not linearly separable"),
    "and": _table(("x1", "x2"), lambda a, b: a & b, "Y = x1 AND x2"),
    "or": _table(("x1", "x2"), lambda a, b: a | b, "Y = x1 OR x2"),
    "nand": _table(("x1", "x2"), lambda a, b: 1 - (a & b), "Y = NOT (x1 AND x2)"),
}


def truth_table(name):
    """(x float32 (2^d, d) in the binary counting order, y float32 (2^d,), input names) of a named table."""
    checks.one_of(name, tuple(TABLES), "table")
    t = TABLES[name]
    return t["x"].copy(), t["y"].copy(), t["inputs"]


def _inputs(x, input_dim, name="x"):
    """Input rows as float32 (N, input_dim), finite, and whether one row came without a batch axis."""
    return checks.as_rows(x, input_dim, name)


def _targets(y, n, name="y"):
    try:
        arr = np.asarray(y)
    except ValueError:
        arr = np.zeros((0, 0))
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ZooError(f"{name}: expected {n} binary targets (0 or 1), got dtype {arr.dtype}")
    if arr.shape != (n,) or not np.all((arr == 0) | (arr == 1)):
        raise ZooError(f"{name}: expected {n} binary targets (0 or 1), got shape {arr.shape}"
                       + ("" if arr.shape != (n,) else " with values other than 0 and 1"))
    return arr.astype(np.float32)


def _table_or(model, x, y):
    """The (x, y) given, or the model's own truth table when x is None."""
    if x is None:
        if model.table is None:
            raise ZooError(f"{model.name} names no truth table; pass inputs x and targets y")
        x, y, _ = truth_table(model.table)
    x, _ = _inputs(x, model.input_dim)
    return x, _targets(y, len(x))


# -- the threshold unit ------------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="zoo")
class Perceptron(ZooModel):
    """One threshold unit Y = [x.w + b >= 0] over input_dim real inputs, learning by Rosenblatt's rule.

    init "zeros" starts at w = 0, b = 0 (Rosenblatt's start; with lr = 1 and binary inputs every weight stays an
    integer, so float32 is exact); "uniform" draws them in [-0.5, 0.5] from `seed`. table names the truth table
    (TABLES) the model is for. `model(x)` gives the decisions as floats 0./1., shape (N,).
    """

    family = FAMILY
    input_kind = "rows"
    target_kind = "binary"

    def __init__(self, input_dim=3, init="zeros", table=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        checks.one_of(init, ("zeros", "uniform"), "init")
        if table is not None:
            checks.one_of(table, tuple(TABLES), "table")
        input_dim = checks.count(input_dim, "input_dim", 1, 10_000)
        if table is not None and TABLES[table]["x"].shape[1] != input_dim:
            raise ZooError(f"table {table!r} has {TABLES[table]['x'].shape[1]} inputs, but input_dim={input_dim}")
        self._config = dict(input_dim=input_dim, init=init, table=table, seed=checks.count(seed, "seed", 0))
        self.input_dim, self.table = input_dim, table
        start = "zeros" if init == "zeros" else keras.initializers.RandomUniform(-0.5, 0.5, seed=seed)
        self.unit = keras.layers.Dense(1, kernel_initializer=start,
                                       bias_initializer=start if init == "zeros" else
                                       keras.initializers.RandomUniform(-0.5, 0.5, seed=seed + 1), name="unit")
        self.threshold = Threshold(name="threshold")
        self.errors_tracker = keras.metrics.Sum(name="errors")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.finish(np.zeros((1, input_dim), np.float32), optimizer=keras.optimizers.SGD(1.0))

    @classmethod
    def parameter_count(cls, config):
        return int(config.get("input_dim", 3)) + 1

    @property
    def metrics(self):
        return [self.loss_tracker, self.errors_tracker]

    def call(self, x, training=False):
        return self.threshold(self.unit(ops.cast(x, "float32")))[:, 0]

    # -- Rosenblatt's rule -----------------------------------------------------------------------------------
    def _rule_pass(self, x, y, lr):
        """One pass of the rule over the rows in order; returns the number of mistakes it made on the way."""
        x = tf.cast(x, tf.float32)
        y = tf.reshape(tf.cast(y, tf.float32), [-1])
        lr = tf.cast(lr, tf.float32)
        kernel, bias = self.unit.kernel, self.unit.bias

        # An explicit while_loop: Keras traces train_step without AutoGraph. Each update is a control
        # dependency of the next read, so the rows are taken strictly one after another.
        def body(i, errors):
            xi = x[i]
            y_hat = tf.cast(tf.tensordot(xi, tf.convert_to_tensor(kernel)[:, 0], 1) + tf.convert_to_tensor(bias)[0]
                            >= 0.0, tf.float32)
            step = lr * (y[i] - y_hat)
            with tf.control_dependencies([kernel.assign_add(step * xi[:, None]),
                                          bias.assign_add(tf.reshape(step, [1]))]):
                return i + 1, errors + tf.cast(tf.not_equal(y[i], y_hat), tf.float32)

        _, errors = tf.while_loop(lambda i, _: i < tf.shape(x)[0], body, (tf.constant(0), tf.constant(0.0)))
        return errors

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        errors = self._rule_pass(x, y, self.optimizer.learning_rate)
        self.optimizer.iterations.assign_add(1)
        n = tf.cast(tf.shape(x)[0], tf.float32)
        self.errors_tracker.update_state(errors)
        self.loss_tracker.update_state(errors / n, sample_weight=n)  # the epoch's mistake rate
        return {"loss": self.loss_tracker.result(), "errors": self.errors_tracker.result()}

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        wrong = tf.cast(tf.not_equal(self(x), tf.reshape(tf.cast(y, tf.float32), [-1])), tf.float32)
        self.errors_tracker.update_state(tf.reduce_sum(wrong))
        self.loss_tracker.update_state(wrong)
        return {"loss": self.loss_tracker.result(), "errors": self.errors_tracker.result()}

    def learn(self, x=None, y=None, epochs=100, learning_rate=1.0, until_converged=False):
        """Rosenblatt's rule over (x, y) in this fixed order, `epochs` times (in place). Returns {"states": (E+1,
        d+1) weights [w..., b] at each epoch start and after the last, "errors": (E,) mistakes per epoch}.
        until_converged stops after the first epoch without a mistake."""
        x, y = _table_or(self, x, y)
        epochs = checks.count(epochs, "epochs", 1, checks.MAX_EPOCHS)
        lr = checks.number(learning_rate, "learning_rate", 0.0, strict_min=True)
        step = tf.function(self._rule_pass)
        states, errors = [self.weight_vector()], []
        xt, yt = tf.constant(x), tf.constant(y)
        for _ in range(epochs):
            errors.append(int(step(xt, yt, lr)))
            states.append(self.weight_vector())
            if until_converged and errors[-1] == 0:
                break
        return {"states": np.array(states), "errors": np.array(errors, np.int64)}

    # -- NumPy-facing API ----------------------------------------------------------------------------------------
    def weight_vector(self):
        """[w_1, ..., w_d, b] as float64."""
        return np.concatenate([np.asarray(self.unit.kernel)[:, 0], np.asarray(self.unit.bias)]).astype(np.float64)

    def net_input(self, x):
        x, single = _inputs(x, self.input_dim)
        z = np.asarray(self.unit(x))[:, 0]
        return z[0] if single else z

    def decide(self, x):
        """Y = [x.w + b >= 0] as int64 0/1."""
        z = self.net_input(x)
        return (np.asarray(z) >= 0).astype(np.int64)

    def smooth(self, x, temperature=1.0):
        """sigmoid((x.w + b) / temperature): the threshold unit's smooth version (-> the step as temperature -> 0)."""
        t = checks.number(temperature, "temperature", 0.0, strict_min=True)
        # the tanh form of the logistic: no overflow however sharp the temperature
        return 0.5 * (1.0 + np.tanh(np.asarray(self.net_input(x), np.float64) / (2.0 * t)))

    def test_metrics(self, x=None, y=None):
        x, y = _table_or(self, x, y)
        wrong = int(np.sum(self.decide(x) != y))
        return {"errors": wrong, "examples": int(len(x)), "accuracy": float(1 - wrong / len(x))}


# -- the multilayer perceptron -----------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="zoo")
class MLP(ZooModel):
    """input_dim -> hidden_units (activation) -> 1 sigmoid unit, trained by backpropagation on cross-entropy.
    `model(x)` gives P(Y = 1), shape (N,); `decide(x)` thresholds it at 0.5."""

    family = FAMILY
    input_kind = "rows"
    target_kind = "binary"

    def __init__(self, input_dim=2, hidden_units=(4,), activation="tanh", table=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(hidden_units, (int, str)):
            raise ZooError(f"hidden_units must be a list of positive integers, got {hidden_units!r}")
        checks.one_of(activation, ("tanh", "sigmoid", "relu"), "activation")
        if table is not None:
            checks.one_of(table, tuple(TABLES), "table")
        input_dim = checks.count(input_dim, "input_dim", 1, 10_000)
        if table is not None and TABLES[table]["x"].shape[1] != input_dim:
            raise ZooError(f"table {table!r} has {TABLES[table]['x'].shape[1]} inputs, but input_dim={input_dim}")
        hidden_units = [checks.count(u, "hidden_units entries", 1, 100_000) for u in hidden_units]
        self._config = dict(input_dim=input_dim, hidden_units=hidden_units, activation=activation, table=table,
                            seed=checks.count(seed, "seed", 0))
        type(self).check_budget(self._config)
        self.input_dim, self.table = input_dim, table
        self.hidden = [keras.layers.Dense(u, activation=activation, name=f"hidden_{i}",
                                          kernel_initializer=keras.initializers.GlorotUniform(seed=seed + i),
                                          bias_initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=seed + 50 + i))
                       for i, u in enumerate(hidden_units)]
        self.out = keras.layers.Dense(1, activation="sigmoid", name="output",
                                      kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 99))
        self.finish(np.zeros((1, input_dim), np.float32))

    @classmethod
    def parameter_count(cls, config):
        dims = [int(config.get("input_dim", 2)), *[int(u) for u in config.get("hidden_units", (4,))], 1]
        return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))

    def compile(self, optimizer=None, loss=None, metrics=None, **kwargs):
        """Adam(0.05), binary cross-entropy on the probability and accuracy, unless told otherwise."""
        super().compile(optimizer=optimizer or keras.optimizers.Adam(0.05),
                        loss=loss or keras.losses.BinaryCrossentropy(),
                        metrics=metrics if metrics is not None else [keras.metrics.BinaryAccuracy(name="accuracy")],
                        **kwargs)

    def call(self, x, training=False):
        h = ops.cast(x, "float32")
        for layer in self.hidden:
            h = layer(h)
        return self.out(h)[:, 0]

    def hidden_activations(self, x):
        x, _ = _inputs(x, self.input_dim)
        h, out = x, []
        for layer in self.hidden:
            h = layer(h)
            out.append(np.asarray(h))
        return out

    def probability(self, x):
        x, single = _inputs(x, self.input_dim)
        p = np.asarray(self(x)).astype(np.float64)
        return p[0] if single else p

    def decide(self, x):
        return (np.asarray(self.probability(x)) >= 0.5).astype(np.int64)

    def test_metrics(self, x=None, y=None):
        x, y = _table_or(self, x, y)
        p = np.clip(self.probability(x), 1e-7, 1 - 1e-7)
        wrong = int(np.sum((p >= 0.5) != y))
        return {"errors": wrong, "examples": int(len(x)), "accuracy": float(1 - wrong / len(x)),
                "bce_per_example": float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))}


# -- analysis ------------------------------------------------------------------------------------------------------
def find_cycle(states):
    """(first, period) for the first index j whose state equals an earlier state i (first = i, period = j - i),
    or None. States are compared exactly: the rule with lr = 1 from w = 0 on binary inputs is integer-valued."""
    seen = {}
    for j, s in enumerate(np.asarray(states)):
        key = s.tobytes()
        if key in seen:
            return seen[key], j - seen[key]
        seen[key] = j
    return None


def xor_analysis(epochs=100, order=None):
    """Rosenblatt's rule on XOR from w = 0 with lr = 1 in a fixed order (default: the table's): the cycle it
    falls into and the mistakes per epoch."""
    x, y, _ = truth_table("xor")
    if order is not None:
        x, y = x[list(order)], y[list(order)]
    unit = Perceptron(input_dim=2, name="perceptron_xor")
    trace = unit.learn(x, y, epochs=epochs, learning_rate=1.0)
    cycle = find_cycle(trace["states"])
    out = {"epochs": epochs, "order": [int(i) for i in (order if order is not None else range(4))],
           "errors_per_epoch_min": int(trace["errors"].min()), "errors_per_epoch_first_10": trace["errors"][:10].tolist(),
           "cycle": None}
    if cycle is not None:
        first, period = cycle
        out["cycle"] = {"starts_at_epoch": int(first), "period_epochs": int(period),
                        "states": trace["states"][first:first + period].tolist(),
                        "errors_per_epoch_in_cycle": trace["errors"][first:first + period].tolist()}
    return out, unit, trace


def xor_network(epochs=20):
    """Three threshold units, each trained by Rosenblatt's rule on its own table, wired into XOR:
    h1 = OR(x1, x2), h2 = NAND(x1, x2), Y = AND(h1, h2). Returns (units dict, fn(x) -> 0/1)."""
    units = {}
    for name in ("or", "nand", "and"):
        unit = Perceptron(input_dim=2, table=name, name=f"unit_{name}")
        trace = unit.learn(epochs=epochs, until_converged=True)
        if trace["errors"][-1] != 0:
            raise ZooError(f"the rule did not converge on {name} in {epochs} epochs")
        units[name] = unit

    def network(x):
        x, _ = _inputs(x, 2)
        hidden = np.stack([units["or"].decide(x), units["nand"].decide(x)], axis=1).astype(np.float32)
        return units["and"].decide(hidden)
    return units, network


# -- figures ---------------------------------------------------------------------------------------------------------
GRID = np.linspace(-0.5, 1.5, 161)


def _grid_values(fn):
    xx, yy = np.meshgrid(GRID, GRID)
    return GRID, GRID, np.asarray(fn(np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)),
                                  np.float64).reshape(xx.shape)


def _line(w, b):
    return (float(w[0]), float(w[1]), float(b))


def _numbers(values):
    """[3, 0, 0] for [3.0, 0.0, 0.0]: the weights as short as they are exact (the rule keeps them whole)."""
    return "[" + ", ".join(f"{float(v):.3g}" for v in values) + "]"


def _rule_in_words(model, x, names):
    """'Y = weather' when the unit's decisions on the table's rows copy one input, else None."""
    decided = model.decide(x)
    return next((f"Y = {name}" for j, name in enumerate(names) if np.array_equal(decided, x[:, j])), None)


def boundary_panels(model):
    """The panels of the decision-boundary figure for a model of this family."""
    panels = []
    if isinstance(model, Perceptron) and model.input_dim == 3:
        x, y, names = truth_table(model.table or "festival")
        v = model.weight_vector()
        for t in (0.0, 1.0):
            rows = x[:, 2] == t
            # the slice transport = t of the plane w.x + b = 0 is a line in (weather, friend)
            fn = lambda p, t=t: model.decide(np.concatenate([p, np.full((len(p), 1), t, np.float32)], 1))  # noqa: E731
            panels.append({"title": f"perceptron, slice {names[2]} = {int(t)}\nlearned w = {_numbers(v[:3])}, "
                                    f"b = {v[3]:.3g}",
                           "x": x[rows][:, :2], "y": y[rows], "grid": _grid_values(fn),
                           "lines": [_line(v[:2], v[3] + v[2] * t)], "xlabel": names[0], "ylabel": names[1]})
    elif isinstance(model, Perceptron) and model.input_dim == 2:
        x, y, names = truth_table(model.table or "xor")
        v = model.weight_vector()
        panels.append({"title": f"perceptron on {model.table or 'xor'}\nw = {_numbers(v[:2])}, b = {v[2]:.3g}",
                       "x": x, "y": y, "grid": _grid_values(model.decide), "lines": [_line(v[:2], v[2])],
                       "xlabel": names[0], "ylabel": names[1]})
    elif isinstance(model, MLP) and model.input_dim == 2:
        x, y, names = truth_table(model.table or "xor")
        first = model.hidden[0]
        k, b = np.asarray(first.kernel), np.asarray(first.bias)
        # tanh, sigmoid and relu all change regime where the pre-activation is 0: w.x + b = 0
        lines = [_line(k[:, j], b[j]) for j in range(k.shape[1])]
        panels.append({"title": f"MLP 2-{'-'.join(map(str, model.get_config()['hidden_units']))}-1 (backprop): "
                                f"P(Y=1)\ndashed: hidden units' zero lines",
                       "x": x, "y": y, "grid": _grid_values(model.probability), "lines": lines, "dashed": True,
                       "xlabel": names[0], "ylabel": names[1]})
    return panels


def figure(model):
    """Decision boundaries: the model's own, the perceptron stuck on XOR, and the network of threshold units."""
    panels = boundary_panels(model)
    analysis, unit, _ = xor_analysis(epochs=20)
    panels += boundary_panels(unit)
    if analysis["cycle"]:
        c = analysis["cycle"]
        panels[-1]["title"] = (f"perceptron on XOR after 20 epochs: the rule\ncycles (period {c['period_epochs']} "
                               f"epoch{'s' if c['period_epochs'] > 1 else ''}), >= {min(c['errors_per_epoch_in_cycle'])} "
                               "mistakes/epoch")
    if isinstance(model, MLP):
        units, network = xor_network()
        x, y, names = truth_table("xor")
        lines = [_line(units[n].weight_vector()[:2], units[n].weight_vector()[2]) for n in ("or", "nand")]
        panels.append({"title": "3 threshold units, each by the rule:\nAND(OR, NAND); dashed: OR and NAND lines",
                       "x": x, "y": y, "grid": _grid_values(network), "lines": lines, "dashed": True,
                       "xlabel": names[0], "ylabel": names[1]})
    title = f"{model.name}: decision regions (shaded: output; circles: truth table)"
    if isinstance(model, Perceptron) and model.input_dim == 3:
        x, _, names = truth_table(model.table or "festival")
        v = model.weight_vector()
        rule = _rule_in_words(model, x, names)
        # The card's weights, said once where nobody can miss them, with what they decide.
        title = (f"{model.name}: learned w = {_numbers(v[:3])}, b = {v[3]:.3g} (by Rosenblatt's rule)"
                 + (f", so {rule}" if rule else "") + "\nshaded: the unit's output; circles: the truth table")
    return decision_regions(panels, title=title)


# -- family hooks -----------------------------------------------------------------------------------------------------
def train(model, data, recipe, fit):
    """The rule (Perceptron) or backpropagation (MLP) on the model's truth table; data is None (no data set)."""
    if model.table is None:
        raise ZooError(f"{model.name} names no truth table to learn (config table=...)")
    x, y, names = truth_table(model.table)
    rule = isinstance(model, Perceptron)
    history = fit(model, (x, y), None, epochs=recipe["epochs"], batch_size=min(recipe["batch_size"], len(x)),
                  learning_rate=recipe["learning_rate"], seed=recipe["seed"],
                  phase="rule" if rule else "backprop", optimizer="sgd" if rule else "adam",
                  lr_schedule=recipe.get("lr_schedule", "constant"), early_stopping=recipe.get("early_stopping"))
    extra = {"truth_table": {"name": model.table, "inputs": list(names), "note": TABLES[model.table]["note"],
                             "x": x.astype(int).tolist(), "y": y.astype(int).tolist()},
             "learning": ("Rosenblatt's rule, w += lr (y - y_hat) x and b += lr (y - y_hat), example by example in "
                          "a seeded order per epoch; lr is the recipe's learning_rate (the card's 'optimizer' "
                          "field is not used by the rule)" if rule else
                          "backpropagation of binary cross-entropy with Adam, the whole table per batch")}
    if rule and "errors" in history:
        clean = [i for i, e in enumerate(history["errors"]) if e == 0]
        extra["rule"] = {"errors_per_epoch": history["errors"],
                         "first_epoch_without_mistakes": clean[0] + 1 if clean else None}
    return history, extra


def card_metrics(model, data):
    out = {}
    if isinstance(model, Perceptron):
        v = model.weight_vector()
        out["weights"] = {"w": v[:-1].tolist(), "b": float(v[-1])}
        analysis, _, _ = xor_analysis(epochs=50)
        out["xor_with_the_rule"] = {**analysis, "note": "a fresh 2-input unit, w = 0, lr = 1, table order: XOR is not "
                                                        "linearly separable, so the rule never stops making mistakes; "
                                                        "its weights repeat with this period"}
    if isinstance(model, MLP) and model.table is not None:
        x, _, _ = truth_table(model.table)
        out["outputs"] = {"x": x.astype(int).tolist(), "p_y1": np.round(model.probability(x), 4).tolist()}
    return out


def pictures(model, data):
    return {"decision_boundaries.png": figure(model)}


def preview(model, data):
    return figure(model)


def export_parts(model, data):
    """The unit (inputs -> decision) or the MLP (inputs -> probability). Inputs for calibration and comparison
    are rows of the model's truth table (or uniform [0, 1] rows without one)."""
    x_in = keras.Input((model.input_dim,), name="inputs")
    is_unit = isinstance(model, Perceptron)
    out_name = "decision" if is_unit else "probability"
    part = keras.Model(x_in, {out_name: model(x_in)}, name="perceptron" if is_unit else "mlp")

    def inputs(n, seed):
        rng = np.random.default_rng(seed)
        if model.table is None:
            return [rng.random((n, model.input_dim), dtype=np.float32)]
        x, _, _ = truth_table(model.table)
        return [x[rng.integers(0, len(x), n)]]

    metric = None
    if model.table is not None:
        x, y, _ = truth_table(model.table)

        def metric(runner):
            got = np.asarray(runner([x])[0]).reshape(-1)
            exported = float(np.mean((got >= 0.5) == y))
            keras_value = float(np.mean(model.decide(x) == y))
            return metric_report("accuracy", exported, keras_value, digits=4, split=f"truth table {model.table}",
                                 images=int(len(x)), chain=f"exported {part.name}")

    return {part.name: ExportPart(part, inputs, metric, 0.0)}
