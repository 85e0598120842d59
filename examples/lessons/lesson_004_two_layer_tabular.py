"""Lesson 004, "Backpropagation" (a two-layer network on tabular data): every listing, run.

The lesson is NumPy throughout: it loads the Pima Indians Diabetes data (diabetes.csv),
standardizes it, runs a ReLU + sigmoid network forward with a cache, then derives dz2, dW2/db2,
da1, dz1, dW1/db1 by hand, checks one weight numerically and takes one gradient step. Every
listing runs as written, and each is cross-checked by the same lines written on tinygrad_lab
tensors (np.sum(..., axis=0, keepdims=True) -> tl.sum(..., axis=0, keepdims=True),
X.mean(axis=0), X.std(axis=0), ...) and by tl's autograd, whose gradients must equal the
lesson's hand-derived ones. The lesson's printed outputs are shown next to ours.

The data: the lesson downloads diabetes.csv (768 patients, 8 measurements + Outcome). This
script does not download anything: it writes a generated STAND-IN with the same nine columns,
768 rows and the same 500/268 outcome balance (seeded, plausible ranges, glucose/BMI/age
shifted upward for positives) to a temporary directory and reads that. The shapes and balance
match the lesson's exactly; other numbers come from the stand-in, not the real data. pandas is
used when installed; otherwise a minimal reader with the three DataFrame operations the lesson
uses (read_csv, df.drop(columns=...).values, df["Outcome"].value_counts().sort_index()).

What really happens where the lesson's code and PyTorch's conventions differ: NumPy's
X.std(axis=0) divides by N, while a tensor's .std(axis=0) (PyTorch's and tl's) divides by N - 1;
std(axis=0, correction=0) reproduces NumPy (shown in "Setting Up the Data", part 2).

    python examples/lessons/lesson_004_two_layer_tabular.py
    python examples/lessons/lesson_004_two_layer_tabular.py --quick
"""
import contextlib
import math
import os
import sys
import tempfile

import numpy as np

import _lesson as lesson
from _lesson import agree, show

import tinygrad_lab as tl

COLUMNS = ["Pregnancies", "Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI",
           "DiabetesPedigreeFunction", "Age", "Outcome"]


# ---------------------------------------------------------------------------------------------
# The data stand-in and a minimal reader for when pandas is missing.
# ---------------------------------------------------------------------------------------------
def write_diabetes_standin(path, seed=4):
    """Write a generated stand-in for diabetes.csv: the lesson's 9 columns, 768 rows, 500
    negatives and 268 positives. NOT the real Pima data: values are drawn (seeded) from ranges
    like the real columns', with positives' glucose, BMI, age and pregnancies shifted up."""
    g = np.random.default_rng(seed)
    outcome = np.array([0] * 500 + [1] * 268)
    g.shuffle(outcome)
    pos = outcome == 1
    n = len(outcome)
    cols = [
        np.clip(np.round(g.poisson(3.3, n) + 1.5 * pos), 0, 17),              # Pregnancies
        np.clip(np.round(g.normal(110, 25, n) + 31 * pos), 44, 199),          # Glucose
        np.clip(np.round(g.normal(70, 12, n) + 2 * pos), 24, 122),            # BloodPressure
        np.clip(np.round(g.normal(20, 15, n) + 3 * pos), 0, 99),              # SkinThickness
        np.clip(np.round(g.gamma(1.0, 80, n) + 30 * pos), 0, 846),            # Insulin
        np.round(np.clip(g.normal(30.3, 7, n) + 4.8 * pos, 18, 67), 1),       # BMI
        np.round(np.clip(g.gamma(2.0, 0.22, n) + 0.1 * pos, 0.078, 2.42), 3),  # Pedigree
        np.clip(np.round(21 + g.gamma(2.0, 5.5, n) + 5.9 * pos), 21, 81),     # Age
        outcome,
    ]
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(COLUMNS) + "\n")
        for row in zip(*cols):
            f.write(",".join(f"{v:g}" for v in row) + "\n")


class _Counts(dict):
    def sort_index(self):
        return _Counts(sorted(self.items()))


class _Column:
    def __init__(self, values):
        self.values = values

    def value_counts(self):
        keys, counts = np.unique(self.values, return_counts=True)
        return _Counts((int(k), int(c)) for k, c in zip(keys, counts))


class _Frame:
    """The three DataFrame operations the lesson uses, for when pandas is not installed."""

    def __init__(self, columns, values):
        self.columns, self.values = list(columns), values
        self.shape = values.shape

    def __getitem__(self, name):
        return _Column(self.values[:, self.columns.index(name)])

    def drop(self, columns):
        keep = [i for i, c in enumerate(self.columns) if c != columns]
        return _Frame([self.columns[i] for i in keep], self.values[:, keep])


class _MiniPandas:
    @staticmethod
    def read_csv(path):
        with open(path, encoding="utf-8") as f:
            header = f.readline().strip().split(",")
        return _Frame(header, np.loadtxt(path, delimiter=",", skiprows=1))


try:
    import pandas as pd
except ImportError:
    pd = _MiniPandas()


@contextlib.contextmanager
def in_standin_dir():
    """Run a listing in a temporary directory holding the generated diabetes.csv."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as d:
        write_diabetes_standin(os.path.join(d, "diabetes.csv"))
        os.chdir(d)
        try:
            yield
        finally:
            os.chdir(old)


def t(a):
    """A NumPy array as a float64 tl tensor (for the tl versions of the lesson's lines)."""
    return tl.tensor(np.asarray(a, dtype=np.float64))


# ---------------------------------------------------------------------------------------------
# The listings.
# ---------------------------------------------------------------------------------------------
# Lesson 004, listing "Setting Up the Data" (1 of 2): load diabetes.csv.
@lesson.listing("Setting Up the Data: pd.read_csv('diabetes.csv'), shape and outcome balance")
def setting_up_the_data_load(run):
    with in_standin_dir():
        # download: https://datatweets.com/datasets/diabetes.csv  (here: the generated stand-in)
        df = pd.read_csv("diabetes.csv")
        print("shape:", df.shape)
        print("outcome balance:", dict(df["Outcome"].value_counts().sort_index()))
    show("shape", df.shape, "(768, 9)")
    show("outcome balance", dict(df["Outcome"].value_counts().sort_index()), "{0: 500, 1: 268}")
    assert df.shape == (768, 9)
    run.df = df


# Lesson 004, listing "Setting Up the Data" (2 of 2): X, y and standardization.
@lesson.listing("Setting Up the Data: X, y, standardize (X - X.mean(axis=0)) / X.std(axis=0)")
def setting_up_the_data_standardize(run):
    df = run.df
    X = df.drop(columns="Outcome").values.astype(float)
    y = df["Outcome"].values.reshape(-1, 1).astype(float)
    raw = X
    # Standardize each feature column: (x - mean) / std
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    print("X shape:", X.shape)
    print("y shape:", y.shape)
    show("X shape", X.shape, "(768, 8)")
    show("y shape", y.shape, "(768, 1)")
    run.X, run.y = X, y
    # the same line on a tl tensor
    Xt = t(raw)
    Xt_std = (Xt - Xt.mean(axis=0)) / Xt.std(axis=0)
    ratio = (Xt_std / t(X)).mean().item()
    show("tensor version, X.std(axis=0) (divides by N - 1, as PyTorch)", f"X_tl / X_numpy = {ratio:.6f}",
         f"sqrt(767/768) = {math.sqrt(767 / 768):.6f}")
    agree("tensor version with X.std(axis=0, correction=0) vs NumPy",
          (Xt - Xt.mean(axis=0)) / Xt.std(axis=0, correction=0), X, atol=1e-12)


# Lesson 004, listing "The Forward Pass (and Why It Caches)".
@lesson.listing("The Forward Pass (and Why It Caches): W1, b1, W2, b2; z1, a1, z2, y_hat")
def forward_pass_with_cache(run):
    X = run.X
    np.random.seed(0)
    n_features = X.shape[1]  # 8
    n_hidden = 16
    # Small random weights, zero biases
    W1 = np.random.randn(n_features, n_hidden) * 0.1
    b1 = np.zeros((1, n_hidden))
    W2 = np.random.randn(n_hidden, 1) * 0.1
    b2 = np.zeros((1, 1))

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def relu(z):
        return np.maximum(z, 0)
    # Forward pass, caching every intermediate value
    z1 = X @ W1 + b1      # pre-activation of layer 1
    a1 = relu(z1)         # hidden activation
    z2 = a1 @ W2 + b2     # pre-activation of layer 2
    y_hat = sigmoid(z2)   # predicted probability
    run.__dict__.update(W1=W1, b1=b1, W2=W2, b2=b2, z1=z1, a1=a1, z2=z2, y_hat=y_hat,
                        sigmoid=sigmoid)
    show("cached shapes z1, a1, z2, y_hat", [z1.shape, a1.shape, z2.shape, y_hat.shape])
    # the same lines on tl tensors
    z1_t = t(X) @ t(W1) + t(b1)
    a1_t = tl.maximum(z1_t, 0)
    z2_t = a1_t @ t(W2) + t(b2)
    y_hat_t = 1.0 / (1.0 + tl.exp(-z2_t))
    agree("y_hat: tl vs NumPy", y_hat_t, y_hat, atol=1e-12)


def tl_graph(run, activation="relu"):
    """The lesson's forward pass and loss through tl's autograd, with every intermediate's
    gradient kept (retain_grad), to check each hand-derived step against."""
    W1, b1, W2, b2 = (tl.tensor(getattr(run, k), requires_grad=True) for k in ("W1", "b1", "W2", "b2"))
    X, y = t(run.X), t(run.y)
    z1 = X @ W1 + b1
    a1 = tl.relu(z1) if activation == "relu" else z1
    z2 = a1 @ W2 + b2
    y_hat = tl.sigmoid(z2)
    for v in (z1, a1, z2):
        v.retain_grad()
    eps = 1e-8
    loss = -tl.mean(y * tl.log(y_hat + eps) + (1 - y) * tl.log(1 - y_hat + eps))
    loss.backward()
    return dict(loss=loss, z1=z1.grad, a1=a1.grad, z2=z2.grad, W1=W1.grad, b1=b1.grad,
                W2=W2.grad, b2=b2.grad)


# Lesson 004, listing "The Forward Pass (and Why It Caches)": the loss.
@lesson.listing("Binary cross-entropy: initial loss near ln 2")
def initial_loss(run):
    y, y_hat = run.y, run.y_hat
    N = run.X.shape[0]
    eps = 1e-8  # avoid log(0)
    loss = -np.mean(y * np.log(y_hat + eps) + (1 - y) * np.log(1 - y_hat + eps))
    print(f"initial loss: {loss:.4f}")
    show("initial loss", loss, "0.6931", "{:.4f}")
    show("ln 2", math.log(2), None, "{:.4f}")
    assert abs(loss - math.log(2)) < 0.01
    run.N, run.loss = N, loss
    y_t, y_hat_t = t(y), t(y_hat)
    loss_t = -tl.mean(y_t * tl.log(y_hat_t + eps) + (1 - y_t) * tl.log(1 - y_hat_t + eps))
    agree("loss: tl vs NumPy", loss_t, loss, atol=1e-12)
    run.auto = tl_graph(run)                   # autograd's gradients, for the steps below


# Lesson 004, listing "Step 1: Gradient at the Output, dz2".
@lesson.listing("Step 1: Gradient at the Output, dz2 = (y_hat - y) / N")
def step1_dz2(run):
    y_hat, y, N = run.y_hat, run.y, run.N
    dz2 = (y_hat - y) / N  # shape (768, 1)
    print("dz2 shape:", dz2.shape)
    show("dz2 shape", dz2.shape, "(768, 1)")
    run.dz2 = dz2
    agree("dz2 vs tl autograd's dL/dz2", dz2, run.auto["z2"], atol=1e-10)


# Lesson 004, listing "Step 2: Gradients of the Second Layer, dW2 and db2".
@lesson.listing("Step 2: Gradients of the Second Layer, dW2 = a1.T @ dz2, db2")
def step2_dW2_db2(run):
    a1, dz2 = run.a1, run.dz2
    dW2 = a1.T @ dz2                             # shape (16, 1)
    db2 = np.sum(dz2, axis=0, keepdims=True)     # shape (1, 1)
    print("dW2 shape:", dW2.shape)
    print("db2 shape:", db2.shape)
    show("dW2, db2 shapes", [dW2.shape, db2.shape], "[(16, 1), (1, 1)]")
    run.dW2, run.db2 = dW2, db2
    db2_t = tl.sum(t(dz2), axis=0, keepdims=True)  # the lesson's line on a tensor
    agree("db2 via tl.sum(axis=0, keepdims=True) vs NumPy", db2_t, db2, atol=1e-15)
    agree("dW2, db2 vs tl autograd", [dW2, db2], [run.auto["W2"], run.auto["b2"]], atol=1e-10)


# Lesson 004, listing "Step 3: Push the Gradient Back to the Hidden Layer, da1".
@lesson.listing("Step 3: Push the Gradient Back to the Hidden Layer, da1 = dz2 @ W2.T")
def step3_da1(run):
    dz2, W2 = run.dz2, run.W2
    da1 = dz2 @ W2.T  # shape (768, 16)
    print("da1 shape:", da1.shape)
    show("da1 shape", da1.shape, "(768, 16)")
    run.da1 = da1
    agree("da1 vs tl autograd's dL/da1", da1, run.auto["a1"], atol=1e-10)


# Lesson 004, listing "Step 4: Through the ReLU, dz1".
@lesson.listing("Step 4: Through the ReLU, dz1 = da1 * (z1 > 0)")
def step4_dz1(run):
    da1, z1 = run.da1, run.z1
    dz1 = da1 * (z1 > 0)  # shape (768, 16)
    print("dz1 shape:", dz1.shape)
    show("dz1 shape", dz1.shape, "(768, 16)")
    show("hidden units that were off (no gradient)", f"{(z1 <= 0).mean():.1%} of the (example, unit) pairs")
    run.dz1 = dz1
    agree("dz1 with a tl bool mask (da1 * (z1 > 0)) vs NumPy", t(da1) * (t(z1) > 0), dz1, atol=0)
    agree("dz1 vs tl autograd's dL/dz1", dz1, run.auto["z1"], atol=1e-10)


# Lesson 004, listing "Step 5: Gradients of the First Layer, dW1 and db1".
@lesson.listing("Step 5: Gradients of the First Layer, dW1 = X.T @ dz1, db1")
def step5_dW1_db1(run):
    X, dz1 = run.X, run.dz1
    dW1 = X.T @ dz1                              # shape (8, 16)
    db1 = np.sum(dz1, axis=0, keepdims=True)     # shape (1, 16)
    print("dW1 shape:", dW1.shape)
    print("db1 shape:", db1.shape)
    show("dW1, db1 shapes", [dW1.shape, db1.shape], "[(8, 16), (1, 16)]")
    run.dW1, run.db1 = dW1, db1
    agree("dW1, db1 vs tl autograd", [dW1, db1], [run.auto["W1"], run.auto["b1"]], atol=1e-10)


# Lesson 004, listing "The Complete Backward Pass" (one block: data, parameters, forward, backward).
@lesson.listing("The Complete Backward Pass (one runnable block)")
def complete_backward_pass(run):
    with in_standin_dir():
        # 1. Data
        df = pd.read_csv("diabetes.csv")  # download: https://datatweets.com/datasets/diabetes.csv
        X = df.drop(columns="Outcome").values.astype(float)
        y = df["Outcome"].values.reshape(-1, 1).astype(float)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        N = X.shape[0]
        # 2. Parameters
        np.random.seed(0)
        W1 = np.random.randn(8, 16) * 0.1
        b1 = np.zeros((1, 16))
        W2 = np.random.randn(16, 1) * 0.1
        b2 = np.zeros((1, 1))
        sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
        # 3. Forward pass (cache z1, a1, z2, y_hat)
        z1 = X @ W1 + b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ W2 + b2
        y_hat = sigmoid(z2)
        # 4. Backward pass
        dz2 = (y_hat - y) / N                        # output error
        dW2 = a1.T @ dz2                             # layer-2 weight gradient
        db2 = np.sum(dz2, axis=0, keepdims=True)
        da1 = dz2 @ W2.T                             # push gradient back a layer
        dz1 = da1 * (z1 > 0)                         # through ReLU
        dW1 = X.T @ dz1                              # layer-1 weight gradient
        db1 = np.sum(dz1, axis=0, keepdims=True)
        print("dW1:", dW1.shape, "| dW2:", dW2.shape)
    show("dW1, dW2 shapes", [dW1.shape, dW2.shape], "dW1: (8, 16) | dW2: (16, 1)")
    agree("all four gradients vs the step-by-step listings", [dW1, db1, dW2, db2],
          [run.dW1, run.db1, run.dW2, run.db2], atol=0)


# Lesson 004, listing "Checking the Gradient" (loss_for and a centered difference on dW2[0, 0]).
def make_loss_for(X, y, sigmoid):
    def loss_for(W1, b1, W2, b2):
        z1 = X @ W1 + b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ W2 + b2
        p = sigmoid(z2)
        eps = 1e-8
        return -np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))
    return loss_for


@lesson.listing("Checking the Gradient: numeric vs analytic dW2[0, 0]")
def checking_the_gradient(run):
    X, y, W1, b1, W2, b2, dW2 = run.X, run.y, run.W1, run.b1, run.W2, run.b2, run.dW2
    loss_for = make_loss_for(X, y, run.sigmoid)
    # Numerically estimate the gradient of one weight in W2
    eps = 1e-5
    i, j = 0, 0
    W2_plus = W2.copy(); W2_plus[i, j] += eps      # noqa: E702
    W2_minus = W2.copy(); W2_minus[i, j] -= eps    # noqa: E702
    numeric = (loss_for(W1, b1, W2_plus, b2) - loss_for(W1, b1, W2_minus, b2)) / (2 * eps)
    print("analytic dW2[0,0]:", round(float(dW2[i, j]), 6))
    print("numeric dW2[0,0]:", round(float(numeric), 6))
    print("close?", np.allclose(dW2[i, j], numeric, atol=1e-6))
    show("close?", bool(np.allclose(dW2[i, j], numeric, atol=1e-6)), "True")
    assert np.allclose(dW2[i, j], numeric, atol=1e-6)
    run.loss_for = loss_for
    show("tl autograd's dW2[0,0]", round(run.auto["W2"][0, 0].item(), 6))


# Lesson 004, Exercise 1: gradient-check dW1[0, 0].
@lesson.listing("Exercise 1: Gradient-Check dW1[0, 0]", "exercise")
def exercise1_check_dW1(run):
    X, y, W1, b1, W2, b2, dW1, loss_for = (run.X, run.y, run.W1, run.b1, run.W2, run.b2, run.dW1,
                                           run.loss_for)
    eps = 1e-5
    W1_plus = W1.copy(); W1_plus[0, 0] += eps      # noqa: E702
    W1_minus = W1.copy(); W1_minus[0, 0] -= eps    # noqa: E702
    numeric = (loss_for(W1_plus, b1, W2, b2) - loss_for(W1_minus, b1, W2, b2)) / (2 * eps)
    print("analytic dW1[0,0]:", round(float(dW1[0, 0]), 6))
    print("numeric dW1[0,0]:", round(float(numeric), 6))
    ok = np.allclose(dW1[0, 0], numeric, atol=1e-6)
    show("close?", bool(ok), "It should print True")
    assert ok
    W = [tl.tensor(a, requires_grad=True) for a in (W1, b1, W2, b2)]
    Xt, yt = t(X), t(y)

    def loss_t(W1, b1, W2, b2):
        p = tl.sigmoid(tl.relu(Xt @ W1 + b1) @ W2 + b2)
        return -tl.mean(yt * tl.log(p + 1e-8) + (1 - yt) * tl.log(1 - p + 1e-8))
    show("tl.autograd.gradcheck of all four parameters (float64)",
         tl.autograd.gradcheck(loss_t, W, eps=1e-6, atol=1e-7), "True")


# Lesson 004, Exercise 2: one gradient-descent step with lr = 0.1.
@lesson.listing("Exercise 2: Take One Gradient Descent Step (lr = 0.1)", "exercise")
def exercise2_one_step(run):
    W1, b1, W2, b2 = run.W1, run.b1, run.W2, run.b2
    lr = 0.1
    W1 = W1 - lr * run.dW1
    b1 = b1 - lr * run.db1
    W2 = W2 - lr * run.dW2
    b2 = b2 - lr * run.db2
    new_loss = run.loss_for(W1, b1, W2, b2)
    show("loss after one step", f"{run.loss:.4f} -> {new_loss:.4f}", "slightly below 0.6931", "{}")
    assert new_loss < run.loss
    params = [tl.tensor(getattr(run, k), requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    opt = tl.optim.SGD(params, lr=lr)
    Xt, yt = t(run.X), t(run.y)
    p = tl.sigmoid(tl.relu(Xt @ params[0] + params[1]) @ params[2] + params[3])
    (-tl.mean(yt * tl.log(p + 1e-8) + (1 - yt) * tl.log(1 - p + 1e-8))).backward()
    opt.step()
    agree("the updated parameters vs tl.optim.SGD(lr=0.1).step()", [W1, b1, W2, b2], params,
          atol=1e-10)


# Lesson 004, Exercise 3: identity instead of ReLU; dz1 = da1.
@lesson.listing("Exercise 3: Swap ReLU for No Activation (a1 = z1, so dz1 = da1)", "exercise")
def exercise3_identity(run):
    X, y, W1, b1, W2, b2, N = run.X, run.y, run.W1, run.b1, run.W2, run.b2, run.N
    # Forward: a1 = z1 (identity instead of ReLU)
    z1 = X @ W1 + b1
    a1 = z1
    z2 = a1 @ W2 + b2
    y_hat = run.sigmoid(z2)
    dz2 = (y_hat - y) / N
    dW2 = a1.T @ dz2
    da1 = dz2 @ W2.T
    dz1 = da1        # identity: local derivative 1 everywhere, no mask -- the ReLU mask was the
    #                  only thing gating the gradient; without it the two layers are one linear map
    dW1 = X.T @ dz1
    auto = tl_graph(run, activation="identity")
    agree("dz1 (= da1) vs tl autograd", dz1, auto["z1"], atol=1e-10)
    agree("dW1, dW2 vs tl autograd", [dW1, dW2], [auto["W1"], auto["W2"]], atol=1e-10)
    W_eff = W1 @ W2
    agree("the two layers collapse to one linear map: z2 = X (W1 W2) + (b1 W2 + b2)", z2,
          X @ W_eff + (b1 @ W2 + b2), atol=1e-12)


if __name__ == "__main__":
    sys.exit(lesson.main(__doc__))
