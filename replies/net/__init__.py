"""What every part that talks to a server shares: the HTTP client with one deadline per answer (`http`), its
bounded decompression (`decode`),
the proxy the environment names (`proxy`), retries and rate-limit waits (`retry`), progress and warning hooks
(`events`), the network errors (`errors`), and the rule of which host may receive which secret (`hosts`). The
harvester and the language-model coder both build on it; it imports nothing of theirs."""
