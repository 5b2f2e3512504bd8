"""ProRank training: hard-negative data, stage 1 GRPO prompt warmup (TRL), stage 2 listwise score learning."""
