"""Soak run of the engine: thousands of scored pairs on the tiny random Qwen2 model, RSS sampled as it goes.

Command: python benchmarks/soak.py --pairs 6000 --out benchmarks/results/soak
Writes soak.json (RSS after every block of pairs) and soak.png. Memory should stay flat: no growth per call.
"""

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from prorank_integrations.engine.scorer import ProRankScorer  # noqa: E402
from tests.tiny import save_tiny  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6000)
    parser.add_argument("--block", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/results/soak")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    words = "paris france capital river city lazy dog fox quick brown jumps over the of and".split()
    with tempfile.TemporaryDirectory() as tmp:
        engine = ProRankScorer(str(save_tiny(Path(tmp))), dtype="fp32", device="cpu", max_length=512,
                               cache_size=0)
        proc, samples, done, start = psutil.Process(), [], 0, time.time()
        while done < args.pairs:
            query = " ".join(rng.choices(words, k=rng.randint(1, 12)))
            docs = [" ".join(rng.choices(words, k=rng.randint(0, 300))) for _ in range(20)]
            engine.score(query, docs)
            done += len(docs)
            if done % args.block == 0:
                samples.append({"pairs": done, "rss_mb": proc.memory_info().rss / 2**20,
                                "seconds": time.time() - start})
    first, last = samples[len(samples) // 5]["rss_mb"], samples[-1]["rss_mb"]  # after warm-up
    result = {"pairs": done, "samples": samples, "rss_mb_after_warmup": first, "rss_mb_end": last,
              "growth_mb": last - first, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "command": " ".join(sys.argv)}
    (out / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([s["pairs"] for s in samples], [s["rss_mb"] for s in samples], marker=".")
    ax.set(xlabel="pairs scored", ylabel="RSS (MB)", title="engine soak run, tiny Qwen2 model")
    ax.set_ylim(0, max(s["rss_mb"] for s in samples) * 1.2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "soak.png", dpi=120)
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))


if __name__ == "__main__":
    main()
