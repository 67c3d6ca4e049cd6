"""The database schema as named, append-only migrations.

Never edit a migration that has shipped: add a new one below it. A database
made by any earlier version is brought up to date by `migrate()`.
"""

from sqlite_utils import Database, Migrations

migrations = Migrations("replies")


@migrations()
def m001_initial(db: Database) -> None:
    db["threads"].create(
        {
            "platform": str,
            "id": str,
            "url": str,
            "author_id": str,
            "author_handle": str,
            "text": str,
            "html": str,
            "created_at": str,
            "lang": str,
            "like_count": int,
            "repost_count": int,
            "reply_count": int,
            "quote_count": int,
            "raw": str,
            "added_at": str,
            "last_harvest_at": str,
        },
        pk=("platform", "id"),
        not_null={"platform", "id"},
    )
    db["replies"].create(
        {
            "platform": str,
            "id": str,
            "thread_id": str,
            "parent_id": str,
            "kind": str,
            "status": str,
            "author_id": str,
            "author_handle": str,
            "text": str,
            "html": str,
            "created_at": str,
            "url": str,
            "lang": str,
            "like_count": int,
            "repost_count": int,
            "reply_count": int,
            "quote_count": int,
            "raw": str,
            "source_url": str,
            "tool_version": str,
            "first_seen": str,
            "last_seen": str,
        },
        pk=("platform", "id"),
        not_null={"platform", "id", "thread_id", "kind", "status"},
    )
    db["replies"].create_index(["platform", "thread_id"])
    db["replies"].enable_fts(["text"], create_triggers=True, tokenize="unicode61")
    db["harvest_runs"].create(
        {
            "id": int,
            "platform": str,
            "thread_id": str,
            "started_at": str,
            "ended_at": str,
            "new_count": int,
            "updated_count": int,
            "requests": int,
            "outcome": str,
            "error": str,
            "tool_version": str,
        },
        pk="id",
    )
    db["harvest_runs"].create_index(["platform", "thread_id"])
    # Pagination checkpoints: written in the same transaction as the page they
    # follow, so a killed run resumes exactly where its last commit left off.
    db["cursors"].create(
        {"platform": str, "thread_id": str, "name": str, "value": str, "updated_at": str},
        pk=("platform", "thread_id", "name"),
    )


def migrate(db: Database) -> None:
    """Apply every pending migration."""
    migrations.apply(db)


def known_migrations() -> list[str]:
    """Names of every migration this version of the code knows, in order."""
    return [m.name for m in migrations.pending(Database(memory=True, execute_plugins=False))]


@migrations()
def m002_classification(db: Database) -> None:
    # Sentence vectors keyed by model and text hash, so reclassifying does no model work.
    db["embeddings"].create(
        {"model": str, "text_hash": str, "dim": int, "vector": bytes},
        pk=("model", "text_hash"), not_null={"model", "text_hash", "vector"},
    )
    # One row per reply, codebook version and category: the score and whether it passed the
    # threshold, with the method, model and threshold that produced it.
    db["predictions"].create(
        {"platform": str, "id": str, "codebook": str, "codebook_hash": str, "category": str, "score": float,
         "predicted": int, "threshold": float, "method": str, "model": str, "created_at": str},
        pk=("platform", "id", "codebook_hash", "category"),
        not_null={"platform", "id", "codebook_hash", "category"},
    )
    db["predictions"].create_index(["codebook", "category"])
    # Human (gold) labels: one row per reply, reviewer and codebook; `labels` is a JSON list of ids.
    db["gold_labels"].create(
        {"platform": str, "id": str, "codebook": str, "reviewer": str, "labels": str, "note": str,
         "created_at": str},
        pk=("platform", "id", "codebook", "reviewer"),
        not_null={"platform", "id", "codebook", "reviewer", "labels"},
    )
    db["classify_runs"].create(
        {"id": int, "started_at": str, "ended_at": str, "codebook": str, "codebook_hash": str, "method": str,
         "model": str, "thresholds": str, "replies": int, "embedded": int, "gold": int,
         "cv_zero_shot": float, "cv_few_shot": float, "tool_version": str},
        pk="id",
    )


@migrations()
def m003_review_views(db: Database) -> None:
    # Per-database values that must never leave it, such as the salt for pseudonymised exports.
    db["settings"].create({"key": str, "value": str}, pk="key", not_null={"key"})
    db["gold_labels"].create_index(["codebook", "reviewer"])
    # The current human labels: the most recent review of each reply per codebook.
    db.create_view("gold_current", """
        select g.platform, g.id, g.codebook, g.labels, g.reviewer, g.note, g.created_at from gold_labels g
        where g.rowid = (select g2.rowid from gold_labels g2 where g2.platform = g.platform and g2.id = g.id
                         and g2.codebook = g.codebook order by g2.created_at desc, g2.rowid desc limit 1)
    """)
    # The codebook version `classify` last ran with: what the two views below describe.
    db.create_view("current_codebook", """
        select codebook, codebook_hash from classify_runs order by id desc limit 1
    """)
    db.create_view("reply_labels", """
        select r.platform, r.id, r.thread_id, r.kind, r.author_handle as author, r.created_at, r.like_count,
          r.text,
          (select json_group_array(p.category) from predictions p, current_codebook c
             where p.platform = r.platform and p.id = r.id and p.codebook_hash = c.codebook_hash
             and p.predicted = 1) as predicted,
          (select g.labels from gold_current g, current_codebook c
             where g.platform = r.platform and g.id = r.id and g.codebook = c.codebook) as gold,
          r.url
        from replies r where r.status = 'ok'
    """)
    db.create_view("category_counts", """
        select p.category, sum(p.predicted) as predicted,
          (select count(*) from gold_current g, json_each(g.labels) j
             where g.codebook = c.codebook and j.value = p.category) as gold
        from predictions p join current_codebook c on p.codebook_hash = c.codebook_hash
        group by p.category order by predicted desc, p.category
    """)


@migrations()
def m004_codebooks(db: Database) -> None:
    # Each codebook version classify or a reviewer used, so later commands know its categories
    # without the YAML file at hand.
    db["codebooks"].create({"hash": str, "name": str, "content": str, "added_at": str}, pk="hash",
                           not_null={"hash", "name", "content"})


@migrations()
def m005_tracking(db: Database) -> None:
    # The threads a schedule polls (`replies track`): until NULL means 14 days after the post;
    # platform and thread_id are filled in by the first harvest.
    db["tracked"].create({"url": str, "until": str, "added_at": str, "platform": str, "thread_id": str},
                         pk="url", not_null={"url"})


@migrations()
def m006_discoveries(db: Database) -> None:
    # Each `replies discover` run: its parameters and the themes it found (JSON), so the report can show
    # the themes a codebook leaves uncovered without running the clustering again, and the cluster
    # centres (float32), from which the next run with the same parameters starts.
    db["discoveries"].create({"id": int, "created_at": str, "codebook": str, "codebook_hash": str,
                              "thread": str, "model": str, "params": str, "replies": int, "left_out": int,
                              "uncovered": int, "themes": str, "centres": bytes}, pk="id")


@migrations()
def m007_mastodon_ids_per_server(db: Database) -> None:
    # Mastodon status ids are unique only on one server: a second server's status 1234 overwrote the first's
    # (text, author, thread and labels). Ids now carry the host of the server they came from,
    # `host/1234`; the host of existing rows is the one in their thread's URL.
    host = ("lower(substr(substr(t.url, instr(t.url, '://') + 3), 1,"
            " instr(substr(t.url, instr(t.url, '://') + 3) || '/', '/') - 1))")
    db.execute(f"""create temp table mastodon_hosts as
        select t.id as thread_id, {host} as host from threads t
        where t.platform = 'mastodon' and t.url like '%://%' and instr(t.id, '/') = 0""")
    moved = "(select h.host || '/' || {column} from mastodon_hosts h where h.thread_id = {thread})"
    db.execute(f"""update replies set
          id = {moved.format(column='replies.id', thread='replies.thread_id')},
          parent_id = case when parent_id is null then null
                           else {moved.format(column='replies.parent_id', thread='replies.thread_id')} end,
          thread_id = {moved.format(column='replies.thread_id', thread='replies.thread_id')}
        where platform = 'mastodon' and thread_id in (select thread_id from mastodon_hosts)""")
    for table in ("predictions", "gold_labels"):
        db.execute(f"""update {table} set id = (select r.id from replies r where r.platform = 'mastodon'
                         and substr(r.id, instr(r.id, '/') + 1) = {table}.id
                         and r.thread_id in (select h.host || '/' || h.thread_id from mastodon_hosts h))
            where platform = 'mastodon' and instr(id, '/') = 0""")
    for table in ("cursors", "harvest_runs", "tracked"):
        db.execute(f"""update {table} set thread_id = {moved.format(column=f'{table}.thread_id',
                                                                    thread=f'{table}.thread_id')}
            where platform = 'mastodon' and thread_id in (select thread_id from mastodon_hosts)""")
    db.execute("""update threads set id = (select h.host || '/' || threads.id from mastodon_hosts h
                    where h.thread_id = threads.id)
        where platform = 'mastodon' and id in (select thread_id from mastodon_hosts)""")
    db.execute("drop table mastodon_hosts")


@migrations()
def m008_fidelity(db: Database) -> None:
    # What the platforms report and earlier versions dropped: a Mastodon content warning (`spoiler_text`),
    # the other versions of an edited X post (`edit_history`, a JSON list of ids, oldest first), the post a
    # reply quotes as well (`quote_of`), and the server a row was read from when it is not the thread's own
    # (`origin`, Mastodon with --origin).
    for table in ("threads", "replies"):
        db[table].add_column("spoiler_text", str)
        db[table].add_column("edit_history", str)
        db[table].add_column("quote_of", str)
    db["replies"].add_column("origin", str)
    # Coverage: how many replies and quotes the platform's own counts promise (`expected`) against how
    # many the thread holds after the run (`found`).
    db["harvest_runs"].add_column("expected", int)
    db["harvest_runs"].add_column("found", int)


@migrations()
def m009_coders(db: Database) -> None:
    # Every coder's labels, kept side by side: `predictions` holds the labels of the method classify ran
    # last (what review, export and the report use); `coder_labels` keeps each method and model's own, so a
    # language model and the embedding classifier can be compared with each other and with the reviewers.
    db["coder_labels"].create(
        {"platform": str, "id": str, "codebook_hash": str, "method": str, "model": str, "category": str,
         "score": float, "predicted": int, "threshold": float, "created_at": str},
        pk=("platform", "id", "codebook_hash", "method", "model", "category"),
        not_null={"platform", "id", "codebook_hash", "method", "model", "category"},
    )
    db["coder_labels"].create_index(["codebook_hash", "method", "model"])
    db.execute("insert into coder_labels select platform, id, codebook_hash, coalesce(method, ''),"
               " coalesce(model, ''), category, score, predicted, threshold, created_at from predictions")
    # A language model's answers, keyed by model and the hash of the whole prompt (codebook, examples,
    # reply and its parent, prompt version): a reply that has an answer is never sent again.
    db["llm_answers"].create(
        {"model": str, "prompt_hash": str, "prompt_version": str, "text_hash": str, "status": str,
         "labels": str, "scores": str, "scored_by": str, "prompt_tokens": int, "completion_tokens": int,
         "attempts": int, "error": str, "created_at": str},
        pk=("model", "prompt_hash"), not_null={"model", "prompt_hash", "status"},
    )
    for column in ("prompt_tokens", "completion_tokens", "requests", "failed"):
        db["classify_runs"].add_column(column, int)


ADJUDICATED = "adjudicated"


@migrations()
def m010_adjudication(db: Database) -> None:
    # Where reviewers disagreed, a final decision is recorded as the reviewer `adjudicated`; it is the current
    # label of that reply whatever its time, so exports and the report use it, while agreement between the
    # reviewers is still measured on their own decisions.
    db.execute("drop view gold_current")
    db.create_view("gold_current", f"""
        select g.platform, g.id, g.codebook, g.labels, g.reviewer, g.note, g.created_at from gold_labels g
        where g.rowid = (select g2.rowid from gold_labels g2 where g2.platform = g.platform and g2.id = g.id
                         and g2.codebook = g.codebook
                         order by g2.reviewer = '{ADJUDICATED}' desc, g2.created_at desc, g2.rowid desc limit 1)
    """)
    # `replies serve` pages its table by time, and shows the replies that score highest in each category.
    db["replies"].create_index(["status", "created_at", "id"], if_not_exists=True)
    db["predictions"].create_index(["codebook_hash", "category", "score"], if_not_exists=True)


@migrations()
def m011_samples(db: Database) -> None:
    # Random samples drawn for `replies estimate`: the population (every reply in scope at the moment of the
    # draw) is kept whole, each unit at its place in the seed's random order; the members are the first
    # `size` of that order, so extending a sample takes the next ones and disturbs none drawn before.
    # `history` is a JSON list of {"size", "at"}: the draw and each extension.
    db["samples"].create({"name": str, "seed": int, "size": int, "population": int, "thread_platform": str,
                          "thread_id": str, "created_at": str, "history": str, "tool_version": str},
                         pk="name", not_null={"name", "seed", "size", "population"})
    db["sample_units"].create({"sample": str, "position": int, "platform": str, "id": str},
                              pk=("sample", "position"), not_null={"sample", "position", "platform", "id"},
                              foreign_keys=[("sample", "samples", "name")])
    db["sample_units"].create_index(["sample", "platform", "id"], unique=True)


@migrations()
def m012_llm_servers(db: Database) -> None:
    # How each language-model server (base URL and model) takes structured output, found by asking it once:
    # `dialect` (json_schema, json_object_schema, guided_json, ollama_native, json_object or prompt), and
    # whether it takes the sampling parameters that make decoding deterministic (`extras`).
    db["llm_servers"].create({"base": str, "model": str, "dialect": str, "extras": int, "checked_at": str},
                             pk=("base", "model"), not_null={"base", "model", "dialect"})
    # The model each answer says it came from (a server may serve another than the one asked for).
    db["llm_answers"].add_column("served_model", str)


@migrations()
def m013_edited_at(db: Database) -> None:
    # When a post was last edited, where the platform says (Reddit's `edited`, Mastodon's `edited_at`): a reply
    # changed after others answered it.
    for table in ("threads", "replies"):
        db[table].add_column("edited_at", str)


@migrations()
def m014_parent_index(db: Database) -> None:
    # A thread's tree is walked from each post to its replies: without this index every step scans the thread.
    db["replies"].create_index(["platform", "parent_id"], if_not_exists=True)


@migrations()
def m015_sample_blind(db: Database) -> None:
    # Whether a sample is coded blind to the model (the default, and what every sample drawn before was): while
    # any of its members is uncoded, no page, queue or filter shows the model's tags or scores for its members.
    db["samples"].add_column("blind", int, not_null_default=1)


@migrations()
def m016_population_rule(db: Database) -> None:
    # What a sample's population counted, chosen when it was drawn (JSON): whether the asker's own posts, quote
    # posts and the copies of a text one author posted several times were left out, and how many each rule
    # left out. Samples drawn before have none: every reply with text was in their population.
    db["samples"].add_column("population_rule", str)
    # The codebook version (hash) each human code was given under: codes stay tied to what their categories
    # meant. Codes stored before are attributed to the version of their codebook saved last before them.
    db["gold_labels"].add_column("codebook_hash", str)
    db.execute("""
        update gold_labels set codebook_hash = (
          select c.hash from codebooks c where c.name = gold_labels.codebook and c.added_at <= gold_labels.created_at
          order by c.added_at desc limit 1)""")
    # A user's mapping of one codebook version's categories onto another's (`replies codebook migrate`): how
    # codes given under the old version read under the new one. Codes themselves are never rewritten.
    db["codebook_mappings"].create({"from_hash": str, "to_hash": str, "mapping": str, "created_at": str},
                                   pk=("from_hash", "to_hash"), not_null={"from_hash", "to_hash", "mapping"})
    db.execute("drop view gold_current")
    db.create_view("gold_current", f"""
        select g.platform, g.id, g.codebook, g.labels, g.reviewer, g.note, g.created_at, g.codebook_hash
        from gold_labels g
        where g.rowid = (select g2.rowid from gold_labels g2 where g2.platform = g.platform and g2.id = g.id
                         and g2.codebook = g.codebook
                         order by g2.reviewer = '{ADJUDICATED}' desc, g2.created_at desc, g2.rowid desc limit 1)
    """)


@migrations()
def m017_overlaps(db: Database) -> None:
    # Members of a sample drawn for a second coder, to measure agreement (`replies sample --overlap K NAME
    # --coder B`): that coder's queue for the sample holds these, in this order.
    db["sample_overlaps"].create({"sample": str, "coder": str, "seed": int, "size": int, "created_at": str},
                                 pk=("sample", "coder"), not_null={"sample", "coder", "seed", "size"},
                                 foreign_keys=[("sample", "samples", "name")])
    db["overlap_units"].create({"sample": str, "coder": str, "position": int, "platform": str, "id": str},
                               pk=("sample", "coder", "position"),
                               not_null={"sample", "coder", "position", "platform", "id"})


@migrations()
def m018_sample_units_by_reply(db: Database) -> None:
    # Exports name the samples each reply is a member of: found from the reply, not by scanning every sample.
    db["sample_units"].create_index(["platform", "id"], if_not_exists=True)
