"""Tune your own scikit-learn model with llmhpo's Python API and the embedded LLM, offline.

    python examples/tune_sklearn_api.py [FOLDER]

An SVM on scikit-learn's breast-cancer data, 8 configurations proposed by SmolLM2-135M
(llm="local"), validation accuracy maximised. The study's trial log goes to FOLDER
(default outputs/examples/svm-api): run the script again and it resumes (a finished study
is reported, not rerun); `python scripts/aggregate.py outputs/examples --out results/`
reads it like any CLI run.
"""

import sys

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import llmhpo

x, y = load_breast_cancer(return_X_y=True)
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.33, stratify=y, random_state=0)


def validation_accuracy(config: dict) -> float:
    model = make_pipeline(StandardScaler(), SVC(C=config["C"], gamma=config["gamma"]))
    return model.fit(x_train, y_train).score(x_val, y_val)


space = llmhpo.SearchSpace.from_dict(
    {
        "C": {"type": "float", "low": 2**-10, "high": 2**10, "log": True},
        "gamma": {"type": "float", "low": 2**-10, "high": 2**10, "log": True},
    }
)
study = llmhpo.Study(
    space,
    tuner="llm",
    llm="local",
    budget=8,
    seed=0,
    folder=sys.argv[1] if len(sys.argv) > 1 else "outputs/examples/svm-api",
    task_description="an RBF-kernel SVM classifying breast tumours (569 rows, 30 features)",
    direction="maximize",
    metric="validation accuracy",
    name="svm-breast_cancer",
)
summary = study.optimize(validation_accuracy)
print(f"best validation accuracy {study.best_value:.4f} with {study.best_config}")
print(f"{summary['llm']['random_fallbacks']} of {summary['trials']} rounds fell back to random")
