"""The same SVM tuned through Optuna, with llmhpo's LLMSampler and the embedded LLM, offline.

    python examples/tune_sklearn_optuna.py

Optuna keeps the study (in memory here); each trial's user attribute `llmhpo` says where its
parameters came from: "llm" (the model's answer, taken as written), "fallback" (no valid new
answer in 3 attempts: Optuna's RandomSampler proposed) or "independent" (the first trial,
before the space is known).
"""

import optuna
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from llmhpo.integrations.optuna import LLMSampler

x, y = load_breast_cancer(return_X_y=True)
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.33, stratify=y, random_state=0)


def objective(trial: optuna.Trial) -> float:
    c = trial.suggest_float("C", 2**-10, 2**10, log=True)
    gamma = trial.suggest_float("gamma", 2**-10, 2**10, log=True)
    model = make_pipeline(StandardScaler(), SVC(C=c, gamma=gamma))
    return model.fit(x_train, y_train).score(x_val, y_val)


optuna.logging.set_verbosity(optuna.logging.WARNING)
sampler = LLMSampler(
    llm="local",
    seed=0,
    budget=8,
    task_description="an RBF-kernel SVM classifying breast tumours (569 rows, 30 features)",
    metric="validation accuracy",
)
study = optuna.create_study(direction="maximize", sampler=sampler)
study.optimize(objective, n_trials=8)
for trial in study.trials:
    print(trial.number, trial.user_attrs["llmhpo"]["source"], trial.params, f"{trial.value:.4f}")
print(f"best validation accuracy {study.best_value:.4f} with {study.best_params}")
