"""A Hydra app of your own, tuned by llmhpo's sweeper with the embedded LLM, offline.

    python examples/hydra_app/train.py -m
    python examples/hydra_app/train.py -m hydra.sweeper.tuner=bo hydra.sweeper.n_jobs=2 \
        hydra/launcher=joblib

(the first: 10 rounds proposed by SmolLM2-135M; the second: TPE, 2 jobs at a time).

An MLP on scikit-learn's digits: the app knows nothing of llmhpo; it reads its config and
returns the validation accuracy. conf/config.yaml picks the sweeper (hydra/sweeper: llmhpo)
and declares the search space in Hydra's override grammar under hydra.sweeper.params. The
sweep's trial log, optimization_results.yaml and one folder per job go to
outputs/multirun/hydra_app/<tuner>; the same command resumes a killed sweep.
"""

import warnings

import hydra
from omegaconf import DictConfig
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def train(cfg: DictConfig) -> float:
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=cfg.data_seed
    )
    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(cfg.width,) * cfg.depth,
            activation=cfg.activation,
            alpha=cfg.alpha,
            learning_rate_init=cfg.lr,
            max_iter=cfg.epochs,
            random_state=cfg.data_seed,
        ),
    )
    with warnings.catch_warnings():
        # few epochs, on purpose: the MLP stops before it converges
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    return float(model.score(x_val, y_val))


if __name__ == "__main__":
    train()
