"""Prune your own PyTorch training loop: report each epoch's validation error, ASHA stops
the trials that fall behind.

    python examples/pytorch_asha.py [FOLDER]

A small MLP on scikit-learn's digits, trained for up to 8 epochs by a plain PyTorch loop;
random search over the learning rate, width and weight decay, 12 trials. After each epoch
the loop calls `llmhpo.report(epoch, validation_error)`; with `pruner="asha"` a trial that
is not among the best half at a rung (1, 2, 4 epochs) is stopped there: `llmhpo.report`
raises `llmhpo.TrialPruned`, which the study records as a pruned trial with its curve.
Needs the `train` extra (torch, scikit-learn). The trial log goes to FOLDER (default
outputs/examples/pytorch-asha); run the script again and it resumes.
"""

import sys

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import llmhpo

EPOCHS = 8
x, y = load_digits(return_X_y=True)
x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.3, random_state=0)
x_train, x_val = (torch.tensor(a, dtype=torch.float32) for a in (x_train, x_val))
y_train, y_val = torch.tensor(y_train), torch.tensor(y_val)


def train(config: dict) -> float:
    """Train for up to EPOCHS epochs of mini-batches; the last validation error."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, config["width"]), torch.nn.ReLU(), torch.nn.Linear(config["width"], 10)
    )
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"]
    )
    for epoch in range(1, EPOCHS + 1):
        for batch in torch.randperm(len(x_train)).split(64):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        with torch.no_grad():
            error = (model(x_val).argmax(1) != y_val).float().mean().item()
        # raises llmhpo.TrialPruned where ASHA stops the trial
        llmhpo.report(epoch, error)
    return error


study = llmhpo.Study(
    {
        "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        "width": {"type": "int", "low": 8, "high": 256, "log": True},
        "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True},
    },
    tuner="random",
    budget=12,
    seed=0,
    pruner={"name": "asha", "reduction_factor": 2},
    folder=sys.argv[1] if len(sys.argv) > 1 else "outputs/examples/pytorch-asha",
    metric="validation error",
    name="mlp-digits",
)
summary = study.optimize(train)
for trial in study.trials:
    print(f"trial {trial.round:2d}: {trial.status:6s} after {len(trial.curve)} of {EPOCHS} epochs, "
          f"validation error {trial.value:.3f}")  # fmt: skip
counts = summary["status_counts"]
print(f"{counts['pruned']} of {summary['trials']} trials pruned; best validation error "
      f"{study.best_value:.3f} with {study.best_config}")  # fmt: skip
