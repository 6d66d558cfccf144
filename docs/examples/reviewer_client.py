#!/usr/bin/env python3
"""A small reviewer client for the gongyi API, standard library only.

    export GONGYI_URL=http://127.0.0.1:8000 GONGYI_TOKEN=...   # a long-lived token: POST /api/v1/me/tokens
    python3 reviewer_client.py list                 # my assignments (all pages)
    python3 reviewer_client.py upload scores.csv    # save each row's score sheet as a draft
    python3 reviewer_client.py upload scores.csv --submit   # ... and submit it (locks it)

The CSV (UTF-8, a BOM is fine) has a header row. It names the assignment by `assignment_id`,
or by `application_id` (looked up among my assignments); every other column except `comment`
is a rubric criterion key (`need_analysis`, `project_design`, ..., `party_elements`) with the
score as a decimal ("12.5"). An empty cell leaves that criterion unscored. For the
party-element criterion enter only the judged part: the objective part is computed by the
service. Each row is sent on its own; a refused row is reported with every violation the
service listed, and the others still go through. The exit status is 1 when any row failed.
"""

import argparse
import csv
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


class ApiError(Exception):
    def __init__(self, status, problem):
        self.status = status
        self.problem = problem
        super().__init__(describe(status, problem))


def describe(status, problem):
    if not isinstance(problem, dict):
        return f"HTTP {status}: {problem}"
    text = f"HTTP {status} {problem.get('code', '')}: {problem.get('detail', '')}"
    for v in problem.get("violations") or []:
        where = f" [{v['field']}]" if v.get("field") else ""
        text += f"\n    - {v.get('rule')}{where}: {v.get('message')}"
    return text


class Client:
    def __init__(self, base_url, token, language="zh-CN"):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.token = token
        self.language = language

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        req.add_header("Accept-Language", self.language)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                raw = res.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = raw.decode("utf-8", "replace")
            raise ApiError(e.code, problem) from None

    def assignments(self):
        """Every assignment of mine, following the cursor through all pages."""
        cursor = None
        while True:
            query = {"limit": "200"}
            if cursor:
                query["cursor"] = cursor
            page = self.call("GET", "/assignments?" + urllib.parse.urlencode(query))
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def save_scores(self, assignment_id, scores, comment=None):
        body = {"scores": scores}
        if comment is not None:
            body["comment"] = comment
        return self.call("PUT", f"/assignments/{assignment_id}/scores", body)

    def submit(self, assignment_id):
        return self.call("POST", f"/assignments/{assignment_id}/submit", {})


def read_sheets(path):
    """Rows of the CSV as (line number, assignment or application id, kind, scores, comment)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in (reader.fieldnames or [])]
        if "assignment_id" in fields:
            key = "assignment_id"
        elif "application_id" in fields:
            key = "application_id"
        else:
            raise SystemExit(f"{path}: the header needs an assignment_id or application_id column")
        for n, row in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            if not any(row.values()):
                continue
            scores = {
                k: v
                for k, v in row.items()
                if k not in ("assignment_id", "application_id", "comment") and k and v != ""
            }
            comment = row.get("comment") if "comment" in row else None
            yield n, row.get(key, ""), key, scores, comment


def cmd_list(client, _args):
    rows = list(client.assignments())
    print("assignment_id\tround_id\tapplication_id\tstatus\tjudged_total")
    for a in rows:
        print(
            f"{a['id']}\t{a['round_id']}\t{a['application_id']}\t{a['status']}\t"
            f"{a.get('judged_total') or ''}"
        )
    print(f"{len(rows)} assignments", file=sys.stderr)
    return 0


def cmd_upload(client, args):
    by_application = None
    failed = 0
    done = 0
    for line, ident, kind, scores, comment in read_sheets(args.csv):
        try:
            if kind == "application_id":
                if by_application is None:
                    by_application = {
                        a["application_id"]: a["id"]
                        for a in client.assignments()
                        if a["status"] != "recused"
                    }
                if ident not in by_application:
                    raise ApiError(404, {"code": "not_found", "detail": f"no assignment of mine on application {ident}"})
                assignment = by_application[ident]
            else:
                assignment = ident
            client.save_scores(assignment, scores, comment)
            status = "saved"
            if args.submit:
                client.submit(assignment)
                status = "submitted"
            done += 1
            print(f"line {line}: {assignment} {status}")
        except ApiError as e:
            failed += 1
            print(f"line {line}: {ident} refused: {e}", file=sys.stderr)
    print(f"{done} sheets sent, {failed} refused", file=sys.stderr)
    return 1 if failed else 0


def main(argv=None):
    p = argparse.ArgumentParser(description="gongyi reviewer client")
    p.add_argument("--url", default=os.environ.get("GONGYI_URL", "http://127.0.0.1:8000"))
    p.add_argument("--token", default=os.environ.get("GONGYI_TOKEN"))
    p.add_argument("--lang", default=os.environ.get("GONGYI_LANG", "zh-CN"))
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list my assignments")
    up = sub.add_parser("upload", help="upload score sheets from a CSV file")
    up.add_argument("csv")
    up.add_argument("--submit", action="store_true", help="submit (lock) each sheet after saving it")
    args = p.parse_args(argv)
    if not args.token:
        p.error("a token is needed: --token or GONGYI_TOKEN")
    client = Client(args.url, args.token, args.lang)
    try:
        return {"list": cmd_list, "upload": cmd_upload}[args.command](client, args)
    except ApiError as e:
        print(e, file=sys.stderr)
        return 1
    except urllib.error.URLError as e:
        print(f"cannot reach {args.url}: {e.reason}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
