"""`replies thread`: one thread as a tree of who replied to whom, and its reply network for Gephi."""

from __future__ import annotations

import json
import shutil

import click

from replies.db.tree import thread_tree
from replies.platforms.refs import find_thread
from replies.text import clip, json_visible, visible, xml_text

from .common import db_option, open_database
from .options import codebook_option, current_codebook


@click.command()
@click.argument("ref")
@click.option("--depth", "max_depth", type=click.IntRange(1, 1000), default=6, show_default=True,
              help="Show replies down to this depth (1: replies to the question); deeper ones are counted.")
@click.option("--json", "as_json", is_flag=True, help="Every post as a JSON object, depth first, with its depth.")
@click.option("--network", type=click.Path(dir_okay=False), metavar="FILE.gexf|FILE.graphml",
              help="Write the reply network instead: accounts as nodes, an edge from each author to the author "
                   "they replied to, weighted by how often (GEXF or GraphML by the file's suffix, for Gephi).")
@click.option("--pseudonymize", is_flag=True,
              help="Authors, the handles and links that name people, and post ids as the stable pseudonyms and "
                   "tokens `export --pseudonymize` gives: a tree or network to share.")
@codebook_option
@db_option
def thread(ref, max_depth, as_json, network, pseudonymize, codebook_path, db_path):
    """Show the thread REF (URL, id or PLATFORM:ID) as a tree: each reply under
    the post it answers, indented by depth, with its author, its text on one
    line, the codebook's categories it carries (reviewed, else predicted) and
    how many replies lie under it.

    \b
    Example:
      replies thread https://mastodon.social/@you/113000000000000000 --depth 3
      replies thread x:1861234567890 --network replies.gexf
    """
    database = open_database(db_path)
    row = find_thread(database, ref)
    book = current_codebook(database, codebook_path)
    everything = thread_tree(database, row["platform"], row["id"], codebook=book.name, codebook_hash=book.hash,
                             hide_blind=True)
    if pseudonymize:
        from replies.export.pseudonym import Pseudonymizer

        people = Pseudonymizer.for_database(database)
        everything = [people.record(post) for post in everything]
        home = row.get("author_handle") or ""
        row = {**row, "id": people.post(row["platform"], row["id"]),
               "author_handle": people.person(row.get("author_handle"), row["platform"]),
               "text": people.text(row.get("text"), row["platform"], home.split("@", 1)[1] if "@" in home else None)}
    if network:
        n_accounts, n_links = write_network(everything, row, network)
        click.echo(f"Wrote {network}: {n_accounts} accounts, {n_links} who-replied-to-whom links", err=True)
        return
    posts = everything if as_json else [p for p in everything if p["depth"] <= max_depth]
    if as_json:
        for post in posts:
            click.echo(json_visible(json.dumps(post, ensure_ascii=False)))
        return
    width = shutil.get_terminal_size().columns
    total = len(everything)
    deepest = max((p["depth"] for p in everything), default=0)
    click.echo(clip(visible(f"{row['platform']}: @{row.get('author_handle') or '?'}: {row.get('text') or ''}"),
                    width, one_line=True))
    hidden = sum(1 for p in everything if p["depth"] > max_depth)
    loops = sum(1 for p in everything if p["loop"])
    click.echo(f"{total} posts below it, {deepest} deep; categories of codebook {book.name}"
               + (f"; shown down to depth {max_depth}, {hidden} deeper counted below (--depth shows more)"
                  if hidden else "")
               + (f"; {loops} whose replied-to chain loops, shown at depth 1 and marked (loop)" if loops else "")
               + ("; (blind): a member of a blind sample being coded, the model's tags hidden"
                  if any(p["blind"] for p in everything) else ""))
    for post in posts:
        indent = "  " * (post["depth"] - 1) + "└ "
        tags = f" [{', '.join(post['labels'])}]" if post["labels"] else " (blind)" if post["blind"] else ""
        hidden = post["below"] if post["depth"] == max_depth else 0
        tail = f"  (+{hidden} below)" if hidden else (f"  ({post['below']} below)" if post["below"] else "")
        text = post["text"] if post["status"] == "ok" else f"[{post['status']}]"
        head = (f"{indent}@{post['author'] or '?'}{' (quote)' if post['kind'] == 'quote' else ''}"
                f"{' (loop)' if post['loop'] else ''}: ")
        room = max(20, width - len(head) - len(tags) - len(tail))
        click.echo(visible(head) + clip(visible(text or ""), room, one_line=True) + visible(tags) + tail)


def write_network(posts: list[dict], root: dict, path: str) -> tuple[int, int]:
    """The thread's reply network to `path` (.gexf or .graphml): one node per account (its posts and the
    categories its replies carry), one directed edge per pair who-replied-to-whom, weighted by replies."""
    import networkx as nx

    from replies.files import atomic_file

    suffix = path.rsplit(".", 1)[-1].lower()
    if suffix not in ("gexf", "graphml"):
        raise click.BadParameter(f"{path!r}: name a .gexf or .graphml file", param_hint="--network")
    graph = nx.DiGraph(name=xml_text(f"replies to {root['platform']}:{root['id']}"))
    # what XML cannot hold (control characters, U+FFFE, U+FFFF) is written shown as escapes: every string of the
    # graph goes through xml_text, so a hostile handle or label cannot make the file unreadable
    author_of = {root["id"]: xml_text(root.get("author_handle") or "?")}
    author_of.update({p["id"]: xml_text(p["author"] or "?") for p in posts})
    asker = author_of[root["id"]]
    graph.add_node(asker, posts=1, asker=True)
    categories: dict[str, set[str]] = {asker: set()}
    for post in posts:
        name = author_of[post["id"]]
        if name not in graph:
            graph.add_node(name, posts=0, asker=False)
        graph.nodes[name]["posts"] += 1
        categories.setdefault(name, set()).update(post["labels"])
        # a quote, or a reply at depth 1 (to the question, or to a post never stored), answers the asker;
        # deeper, the parent is in the thread
        target = asker if post["kind"] == "quote" or post["depth"] == 1 else author_of[post["parent_id"]]
        if graph.has_edge(name, target):
            graph[name][target]["weight"] += 1
        else:
            graph.add_edge(name, target, weight=1, kind=xml_text(post["kind"] or ""))
    for name, found in categories.items():
        graph.nodes[name]["categories"] = xml_text(";".join(sorted(found)))
    with atomic_file(path, "wb") as out:
        (nx.write_gexf if suffix == "gexf" else nx.write_graphml)(graph, out)
    return graph.number_of_nodes(), graph.number_of_edges()
