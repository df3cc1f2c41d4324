"""The models-from-code entry MLflow runs to load the ranker (see recommender.pyfunc)."""

import mlflow

from recommender.pyfunc import RankerModel

mlflow.models.set_model(RankerModel())
