"""SageMaker pipeline definitions and the step scripts they run."""
