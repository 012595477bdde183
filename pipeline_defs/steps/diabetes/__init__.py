"""Step scripts of the ``diabetes`` sample: a scikit-learn regression, nothing like the XGBoost sample.

``preprocess.py``, ``train.py``, ``evaluate.py`` and ``inference.py`` are uploaded as-is and run inside the AWS
scikit-learn 1.2-1 images (processing, training in script mode, serving), so they import nothing from this project
and avoid APIs newer than scikit-learn 1.2, pandas 1.5 and numpy 1.24.
"""
