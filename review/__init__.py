"""Human review: the queue of replies to label (`queue`), a reviewer's session over it as a state machine
(`session`), and recording reviewers' labels (typed or imported: `labels`, `labelstudio`) and their agreement
(`reliability`)."""
