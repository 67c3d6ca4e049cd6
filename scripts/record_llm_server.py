"""Record a real language-model server's answers to the requests `classify --method llm` sends, as test fixtures.

For a server running on this machine (llama-cpp-python's, llama.cpp's llama-server, Ollama, vLLM...): its
/models, then one reply of the bundled sample coded in every structured-output dialect `replies` knows, then
--replies more in the first dialect the server took. Each line of the output is {"dialect", "path", "status",
"request", "response"}, the response as the server sent it; tests replay them (tests/test_llm_servers.py).

    .venv/bin/python scripts/record_llm_server.py --base http://127.0.0.1:8911/v1 --model smollm2 \\
        --out tests/data/recorded/llm/llama_cpp_python_0.3.36.jsonl [--replies 5]
"""

from __future__ import annotations

import argparse
import json

import httpx

from replies.classifier.llm import DIALECTS, ChatClient, LlmSettings, messages_for
from replies.codebook import load
from replies.emulator.sample import sample_rows
from replies.net.events import Events
from replies.net.retry import RetryPolicy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--replies", type=int, default=5)
    args = parser.parse_args()
    book = load()
    client = ChatClient(LlmSettings(base=args.base, model=args.model, timeout=300), RetryPolicy(Events()))
    rows = [r for r in sample_rows() if r.parent != "-"][: args.replies + 1]
    lines = []
    with httpx.Client(timeout=600) as http:
        models = http.get(args.base.rstrip("/") + "/models")
        lines.append({"dialect": None, "path": "/models", "status": models.status_code, "request": None,
                      "response": _body(models)})
        taken = None
        for dialect in DIALECTS:
            path, body = client.request_for(book, messages_for(book, rows[0].text, None), dialect, True)
            url = path if path.startswith("http") else args.base.rstrip("/") + path
            answer = http.post(url, json=body)
            lines.append({"dialect": dialect, "path": path, "status": answer.status_code, "request": body,
                          "response": _body(answer)})
            print(f"{dialect}: HTTP {answer.status_code}")
            if answer.status_code == 200 and taken is None:
                taken = dialect
        for row in rows[1:]:
            path, body = client.request_for(book, messages_for(book, row.text, None), taken, True)
            url = path if path.startswith("http") else args.base.rstrip("/") + path
            answer = http.post(url, json=body)
            lines.append({"dialect": taken, "path": path, "status": answer.status_code, "request": body,
                          "response": _body(answer)})
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    print(f"{len(lines)} exchanges written to {args.out}; the server took {taken} first")


def _body(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return response.text


if __name__ == "__main__":
    main()
