"""Scale-out reranking (optional extra ``ray``): the core package never imports Ray."""
