"""The PromQL vocabulary: aggregators, functions (and what they do to labels), operators, keywords.

What the adapter (generator.promql) needs for its hints, what the analyses
(generator.promql_analysis, the rule lint) need to reason about its result, and which words are never
metric names (generator.metrics_inventory). Kept apart so that adding a function is one line here.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


AGGREGATORS = _words(
    """
    avg bottomk count count_values group limit_ratio limitk max min quantile stddev stdvar sum topk
    """
)
# 2.42's functions plus the 3.x ones we know of; an unknown name is a syntax error in Prometheus too
FUNCTIONS = _words(
    """
    abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp
    clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg
    delta deriv double_exponential_smoothing exp first_over_time floor group_over_time histogram_avg
    histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar
    histogram_sum holt_winters hour idelta increase info irate label_join label_replace last_over_time
    ln log10 log2 mad_over_time max_over_time min_over_time minute month pi predict_linear
    present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
    sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time
    timestamp ts_of_first_over_time ts_of_last_over_time ts_of_max_over_time ts_of_min_over_time vector
    year
    """
)
# functions whose result is a scalar
SCALAR_FUNCTIONS = _words(
    """
    pi scalar time
    """
)
# functions that return a label-less vector when called without arguments
NO_ARG_VECTOR = _words(
    """
    day_of_month day_of_week day_of_year days_in_month hour minute month year
    """
)
# functions that keep the metric name (everything else drops it)
KEEP_NAME = _words(
    """
    first_over_time last_over_time sort sort_by_label sort_by_label_desc sort_desc
    """
)
# functions that need at least two samples in their window: the lint's "window >= 4 scrapes" rule
RATE_FUNCTIONS = _words(
    """
    changes delta deriv idelta increase irate predict_linear rate resets
    """
)
COMPARISONS = frozenset({"==", "!=", "<=", "<", ">=", ">"})
# operator words, which are never metric names
OPERATOR_WORDS = _words(
    """
    and atan2 or unless
    """
)
# words that modify an operator, an aggregation or a selector
MODIFIERS = _words(
    """
    bool by group_left group_right ignoring offset on without
    """
)
# grouping modifiers, followed by a list of label names
GROUPING = _words(
    """
    by group_left group_right ignoring on without
    """
)
# words that never name a metric: operator words, modifiers, inf/nan (any case) and @'s start()/end()
KEYWORDS = OPERATOR_WORDS | MODIFIERS | _words("inf nan start end")
