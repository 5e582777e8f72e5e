"""Human evaluation: a local "real or fake?" page whose votes become detector rows.

Each rater labels a balanced, shuffled mix of real test images and fresh fakes one at a time, as
in HYPE (Zhou, Gordon, Krishna, Narcomey, Fei-Fei & Bernstein, "HYPE: A Benchmark for Human eYe
Perceptual Evaluation of Generative Models", NeurIPS 2019) and the real-or-synthetic face study
of Nightingale & Farid ("AI-synthesized faces are indistinguishable from real faces and more
trustworthy", PNAS 2022). A rater becomes the detector ``human:<rater>``; the share of a
generator's fakes voted real is its *fooled rate* (HYPE's error rate on fakes).

Modules: ``items`` (which images, in which order), ``votes`` (the append-only vote log),
``scoring`` (metrics, Wilson intervals, records), ``session`` (one rater's state), ``page``
(HTML, CSS, JS), ``server`` (the local HTTP server) and ``app`` (the command's flow).
"""

from ganbench.human_eval.app import HumanEvalOutcome, resolve_run, run_human_eval
from ganbench.human_eval.items import Item, ItemSet, build_item_set, split_counts
from ganbench.human_eval.scoring import human_records, vote_metrics, wilson_interval
from ganbench.human_eval.session import RatingSession
from ganbench.human_eval.votes import VoteLog

__all__ = ["HumanEvalOutcome", "Item", "ItemSet", "RatingSession", "VoteLog", "build_item_set", "human_records",
           "resolve_run", "run_human_eval", "split_counts", "vote_metrics", "wilson_interval"]
