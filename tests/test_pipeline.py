"""govhub.pipeline's words for the task logs."""

from govhub.pipeline import _n


def test_counts_say_their_noun_in_the_right_number():
    assert _n(1, "new batch") == "1 new batch"
    assert _n(363, "new batch") == "363 new batches"  # once "363 new batchs" in the feed gate's log
    assert _n(0, "record") == "0 records"
    assert _n(12_000, "new or changed version") == "12,000 new or changed versions"
