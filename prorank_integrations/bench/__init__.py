"""Benchmarks: BEIR-layout data, first-stage retrieval, reranker specs, metrics, RAG with RAGAS, reports."""
