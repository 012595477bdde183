"""Step scripts for the sample ``breast-cancer`` model.

``preprocess.py`` and ``evaluate.py`` are uploaded as-is and run inside SageMaker's
scikit-learn and XGBoost images, so they import nothing from this project and stay
compatible with the older library versions those images ship.
"""
