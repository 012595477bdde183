"""The shipped SageMaker catalog matches the installed botocore service model."""

from mlops_config.catalog import extract_catalog, load_catalog


def test_catalog_matches_botocore() -> None:
    shipped = {key: sorted(values) for key, values in load_catalog().items()}
    assert shipped == extract_catalog(), "run `python -m mlops_config.catalog` to refresh mlops_config/catalog.json"
