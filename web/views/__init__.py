"""The pages of `replies serve`, one blueprint a module: `review` (the review queue, adjudication, the
reviewer's name), `table` (the replies table and its downloads), `overview` (charts, shares, agreement, the
codebook page), `thread` (a thread as a tree of who replied to whom). `common` holds what more than one of them
needs."""
