"""From tags to numbers you can cite: random samples of replies for humans to code (`draw`), and each category's
share of the replies with a confidence interval, combining the model's scores on every reply with the human
codes on the sample (`shares`, by the estimator in `intervals`), as a person reads it (`text`) and as a methods
section says it (`methods`)."""
