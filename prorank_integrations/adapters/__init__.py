"""Reranker adapters trained by this project, shipped with the package and loadable by folder name."""
