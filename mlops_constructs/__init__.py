"""The project's L3 construct library: one module per MLOps capability."""
