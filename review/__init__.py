"""Human review: the queue of replies to label and recording reviewers' labels (typed or imported)."""
