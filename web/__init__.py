"""`replies serve`: a local web page for reviewing, adjudicating and exploring the replies in a database."""
